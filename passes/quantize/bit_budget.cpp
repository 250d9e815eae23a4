#include "passes/quantize/bit_budget.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "lib/model/model_size.h"
#include "lib/support/error.h"
#include "passes/quantize/grid_search.h"
#include "passes/quantize/quantize_model.h"
#include "passes/quantize/weight_fisher.h"

namespace slmc {

using nlohmann::json;

BudgetPlan planBudget(const std::vector<BudgetItem>& items, int64_t budget_bytes) {
  require(budget_bytes > 0, "bit budget: the budget is " + std::to_string(budget_bytes) + " bytes");
  int64_t smallest = 0;
  for (const BudgetItem& item : items) {
    require(!item.bytes.empty() && item.bytes.size() == item.error.size(),
            "bit budget: '" + item.name + "' has no candidates");
    smallest += *std::min_element(item.bytes.begin(), item.bytes.end());
  }
  require(smallest <= budget_bytes, "the budget (" + std::to_string(budget_bytes) +
                                        " bytes for the planned weights) is below their smallest candidates (" +
                                        std::to_string(smallest) + " bytes): raise the target or add a smaller scheme");
  // dp[c]: least error of the items so far within c units; choice[i][c]: item i's pick there.
  constexpr int64_t kUnits = 1 << 16;
  const int64_t unit = std::max<int64_t>(1, (budget_bytes + kUnits - 1) / kUnits);
  const int64_t capacity = budget_bytes / unit;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> dp(static_cast<size_t>(capacity + 1), 0.0), next(dp.size());
  std::vector<std::vector<uint8_t>> choice(items.size(), std::vector<uint8_t>(dp.size(), 0));
  for (size_t i = 0; i < items.size(); ++i) {
    const BudgetItem& item = items[i];
    require(item.bytes.size() <= 255, "bit budget: at most 255 candidates");
    std::fill(next.begin(), next.end(), inf);
    for (size_t k = 0; k < item.bytes.size(); ++k) {
      const int64_t cost = (item.bytes[k] + unit - 1) / unit;
      for (int64_t c = cost; c <= capacity; ++c) {
        const double e = dp[static_cast<size_t>(c - cost)] + item.error[k];
        if (e < next[static_cast<size_t>(c)]) {
          next[static_cast<size_t>(c)] = e;
          choice[i][static_cast<size_t>(c)] = static_cast<uint8_t>(k);
        }
      }
    }
    std::swap(dp, next);
  }
  // Rounding each cost up can leave no fit where the exact sizes would: the check above is on
  // exact bytes, so say so rather than fail obscurely.
  require(std::isfinite(dp[static_cast<size_t>(capacity)]),
          "the budget (" + std::to_string(budget_bytes) + " bytes) is too close to the smallest plan (" +
              std::to_string(smallest) + " bytes): raise the target a little");
  BudgetPlan plan;
  plan.choice.resize(items.size());
  int64_t c = capacity;
  for (size_t i = items.size(); i-- > 0;) {
    const size_t k = choice[i][static_cast<size_t>(c)];
    plan.choice[i] = k;
    plan.bytes += items[i].bytes[k];
    plan.error += items[i].error[k];
    c -= (items[i].bytes[k] + unit - 1) / unit;
  }
  return plan;
}

namespace {

// The scheme a candidate gives a weight of `cols` columns: per-channel when its group size does
// not divide them (as schemeForTensor falls back).
QuantScheme candidateFor(QuantScheme s, int64_t cols) {
  if (s.group_size > 0 && cols % s.group_size != 0) s.group_size = 0;
  return s;
}

// ½ Σ F·(Ŵ − W)²: the loss increase, to second order, of quantizing w on `scheme`'s searched
// grids (or the plain grid).
double weightError(const std::vector<float>& w, const std::vector<float>& fisher, int64_t rows, int64_t cols,
                   const QuantScheme& scheme, bool search) {
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  std::vector<GroupGrid> grids;
  if (search) grids = searchedGrids(w.data(), rows, cols, scheme, nullptr);
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float* x = w.data() + r * cols + g * gs;
      GroupGrid grid;
      if (search) {
        grid = grids[static_cast<size_t>(r * groups + g)];
      } else {
        const auto [lo, hi] = std::minmax_element(x, x + gs);
        grid = gridForRange(std::min(*lo, 0.0f), std::max(*hi, 0.0f), scheme.bits(), scheme.symmetric);
      }
      total += 0.5 * weightedGridError(x, fisher.data() + r * cols + g * gs, gs, grid, scheme.bits());
    }
  return total;
}

}  // namespace

BitPlacement placeBits(const Model& model, const QuantizeOptions& o, const std::vector<std::string>& planned,
                       const std::vector<int32_t>& ids, int64_t num_samples, int64_t seq_len) {
  require(!o.budget_candidates.empty(), "bit budget: no candidate schemes");
  require(!planned.empty(), "bit budget: no weights to place bits on (check keep)");
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t samples = std::min(o.budget_samples, num_samples);
  const std::map<std::string, std::vector<float>> fisher = weightFisher(model, planned, ids, samples, seq_len, o.bf16);
  const double sensitivity_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<BudgetItem> items;
  std::vector<std::vector<QuantScheme>> schemes;
  int64_t planned_parameters = 0;
  const bool search = o.scale_search && o.observer.kind == ObserverKind::MinMax;
  for (const std::string& name : planned) {
    const Tensor& t = model.tensors.at(name);
    const int64_t rows = t.dim(0), cols = t.dim(1);
    const std::vector<float> w = t.toFloats();
    planned_parameters += rows * cols;
    BudgetItem item{name, {}, {}};
    std::vector<QuantScheme> tensor_schemes;
    for (const QuantScheme& candidate : o.budget_candidates) {
      const QuantScheme s = candidateFor(candidate, cols);
      tensor_schemes.push_back(s);
      item.bytes.push_back(quantizedBytes(s, rows, cols));
      item.error.push_back(weightError(w, fisher.at(name), rows, cols, s, search));
    }
    items.push_back(std::move(item));
    schemes.push_back(std::move(tensor_schemes));
  }

  int64_t budget = 0, others = 0;
  if (o.target_bytes > 0) {
    // Everything but the planned weights, at the size modelSize counts (the planned ones are
    // float here: their bytes are their dtype's).
    others = modelSize(model).bytes;
    for (const std::string& name : planned) others -= static_cast<int64_t>(model.tensors.at(name).nbytes());
    budget = o.target_bytes - others;
    require(budget > 0, "target_bytes " + std::to_string(o.target_bytes) + " is below the " + std::to_string(others) +
                            " bytes of the tensors outside the plan (norms, a float embedding): raise it, or quantize "
                            "the embedding (embedding=int8-g32)");
  } else {
    budget = static_cast<int64_t>(std::floor(o.target_bpw * static_cast<double>(planned_parameters) / 8.0));
  }
  const BudgetPlan plan = planBudget(items, budget);

  BitPlacement placement;
  json rows = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const QuantScheme& chosen = schemes[i][plan.choice[i]];
    placement.schemes[items[i].name] = chosen;
    json row = {{"tensor", items[i].name}, {"scheme", schemeName(chosen)}, {"bits", chosen.bits()},
                {"bytes", items[i].bytes[plan.choice[i]]}};
    for (size_t k = 0; k < o.budget_candidates.size(); ++k)
      row["error " + schemeName(o.budget_candidates[k])] = items[i].error[k];
    rows.push_back(std::move(row));
  }
  placement.figures = {{"candidates", schemeNames(o.budget_candidates)},
                       {"samples", samples},
                       {"planned_tensors", static_cast<int64_t>(items.size())},
                       {"budget_bytes", budget},
                       {"planned_bytes", plan.bytes},
                       {"planned_bits_per_weight", 8.0 * static_cast<double>(plan.bytes) /
                                                       static_cast<double>(std::max<int64_t>(planned_parameters, 1))},
                       {"error", plan.error},
                       {"sensitivity_seconds", sensitivity_seconds},
                       {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
                       {"tensors", rows}};
  if (o.target_bytes > 0) {
    placement.figures["target_bytes"] = o.target_bytes;
    placement.figures["other_bytes"] = others;
    placement.figures["model_bytes"] = others + plan.bytes;
  } else {
    placement.figures["target_bits_per_weight"] = o.target_bpw;
  }
  return placement;
}

}  // namespace slmc
