// Mixed precision under a byte budget (passes/quantize/bit_budget.h): the knapsack is exact
// against brute force, refuses budgets nothing fits, and on the real stories260K checkpoint the
// placed mix stays within its target and beats a hand rule of the same size.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "lib/model/model_size.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "passes/builtin_passes.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/reference_model.h"
#include "passes/quantize/bit_budget.h"
#include "passes/quantize/quantize_model.h"
#include "passes/quantize/weight_fisher.h"
#include "lib/reference/perplexity.h"
#include "tests/sampled_ids.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// The least total error of any choice within `budget` bytes, by enumeration.
double bruteForce(const std::vector<BudgetItem>& items, int64_t budget) {
  double best = 1e300;
  std::vector<size_t> pick(items.size(), 0);
  for (;;) {
    int64_t bytes = 0;
    double error = 0;
    for (size_t i = 0; i < items.size(); ++i) bytes += items[i].bytes[pick[i]], error += items[i].error[pick[i]];
    if (bytes <= budget) best = std::min(best, error);
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].bytes.size()) pick[i++] = 0;
    if (i == items.size()) return best;
  }
}

const std::vector<int32_t>& calibrationIds() {
  static const std::vector<int32_t> ids = sampledFromBos(stories260KModel(), 32, 128, 11);
  return ids;
}

double meanKl(const Model& m) {
  static const std::vector<int32_t> eval = sampledFromBos(stories260KModel(), 16, 128, 12);
  const ReferenceModel base(stories260KModel()), cand(m);
  ComparisonOptions c;
  c.ctx = 128;
  return compareModels(base, cand, eval, c).mean_kl;
}

Model quantized(const QuantizeOptions& o, QuantizeOutcome* outcome = nullptr) {
  Model m = stories260KModel();
  QuantizeOutcome out = quantizeModel(m, o, calibrationIds(), 32, 128, LayerwiseCalibrationOptions{});
  if (outcome) *outcome = out;
  return m;
}

QuantizeOptions rtn() {
  QuantizeOptions o;
  o.scheme = QuantScheme(4, 32, true);
  o.rtn_importance = true;
  return o;
}

}  // namespace

TEST_CASE("bit budget: the plan is the least error within the budget, as brute force finds it") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> size(100, 900);
  std::uniform_real_distribution<double> err(0.0, 10.0);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<BudgetItem> items(6);
    int64_t smallest = 0, largest = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      items[i].name = "w" + std::to_string(i);
      for (int k = 0; k < 3; ++k) {
        items[i].bytes.push_back(size(rng));
        items[i].error.push_back(err(rng));
      }
      smallest += *std::min_element(items[i].bytes.begin(), items[i].bytes.end());
      largest += *std::max_element(items[i].bytes.begin(), items[i].bytes.end());
    }
    const int64_t budget = smallest + (largest - smallest) * trial / 40;
    const BudgetPlan plan = planBudget(items, budget);
    CAPTURE(trial);
    CHECK(plan.bytes <= budget);
    CHECK(plan.error == doctest::Approx(bruteForce(items, budget)));
  }
  // Too small for anything: one line naming both sizes.
  const std::vector<BudgetItem> one = {{"w", {500, 1000}, {2.0, 1.0}}};
  checkError(errorOf([&] { planBudget(one, 499); }),
             "the budget (499 bytes for the planned weights) is below their smallest candidates (500 bytes)");
  CHECK(planBudget(one, 999).choice == std::vector<size_t>{0});
  CHECK(planBudget(one, 1000).choice == std::vector<size_t>{1});
}

TEST_CASE("bit budget: F is the sum over sequences of the squared loss gradient (central differences, stories260K)") {
  const Model& model = stories260KModel();
  constexpr int64_t kSamples = 2, kSeq = 32;
  const std::vector<int32_t> ids = sampledFromBos(model, kSamples, kSeq, 21);
  // The tied embedding (lookup and head: its F sums both uses' gradients) and an MLP weight.
  const std::vector<std::string> names = {names::kEmbedTokens, "model.layers.0.mlp.down_proj.weight"};
  const std::map<std::string, std::vector<float>> fisher = weightFisher(model, names, ids, kSamples, kSeq);
  REQUIRE(fisher.size() == 2);
  // Sequence s's mean next-token NLL with element i of `name` moved by d.
  const auto loss = [&](const std::string& name, size_t i, float d, int64_t s) {
    Model m = model;
    const Tensor& t = m.tensors.at(name);
    std::vector<float> v = t.toFloats();
    v[i] += d;
    m.tensors.set(name, Tensor::fromFloats(t.shape(), std::move(v)));
    PerplexityOptions o;
    o.ctx = kSeq;
    o.batch = 1;
    const std::vector<int32_t> row(ids.begin() + s * kSeq, ids.begin() + (s + 1) * kSeq);
    return evaluatePerplexity(ReferenceModel(m), row, o).mean_nll;
  };
  for (const std::string& name : names) {
    const std::vector<float>& f = fisher.at(name);
    REQUIRE(f.size() == static_cast<size_t>(model.tensors.at(name).numel()));
    // The three most sensitive elements: their gradients are far above the differences' noise.
    std::vector<size_t> order(f.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 3, order.end(), [&](size_t a, size_t b) { return f[a] > f[b]; });
    for (int k = 0; k < 3; ++k) {
      const size_t i = order[static_cast<size_t>(k)];
      const float h = 2e-3f;  // 1e-2 leaves a 27% curvature error on the embedding
      double expected = 0;
      for (int64_t s = 0; s < kSamples; ++s) {
        const double g = (loss(name, i, h, s) - loss(name, i, -h, s)) / (2.0 * h);
        expected += g * g;
      }
      MESSAGE(name << "[" << i << "]: F " << f[i] << ", central differences " << expected);
      CHECK(f[i] > 0);
      CHECK(f[i] == doctest::Approx(expected).epsilon(0.03));  // measured within 1.6%
    }
  }
}

TEST_CASE("bit budget: on stories260K the placed mix fits its target and beats a hand rule of the same size") {
  // The hand rule: attention at int8, the MLP at int4 (the kind of rule llama.cpp's mixes are).
  QuantizeOptions rule = rtn();
  rule.scheme_rules = {{"self_attn", QuantScheme(8, 32, true)}};
  const Model by_rule = quantized(rule);
  const int64_t rule_bytes = modelSize(by_rule).bytes;

  QuantizeOptions budget = rtn();
  budget.target_bytes = rule_bytes;
  budget.budget_candidates = {QuantScheme(4, 32, true), QuantScheme(8, 32, true)};
  QuantizeOutcome outcome;
  const Model placed = quantized(budget, &outcome);
  const nlohmann::json& figures = outcome.figures["bit_budget"];
  const int64_t placed_bytes = modelSize(placed).bytes;
  CHECK(placed_bytes <= rule_bytes);
  CHECK(figures["model_bytes"].get<int64_t>() == placed_bytes);  // the plan's prediction is the model's size
  CHECK(figures["tensors"].size() == 35);
  int eight = 0;
  for (const auto& t : figures["tensors"]) {
    CAPTURE(t.dump());
    const int bits = t["bits"].get<int>();
    CHECK(placed.quantized.at(t["tensor"].get<std::string>())->scheme.bits() == bits);
    eight += bits == 8;
  }
  CHECK(eight > 0);
  CHECK(eight < 35);
  const double kl_rule = meanKl(by_rule), kl_placed = meanKl(placed), kl_int4 = meanKl(quantized(rtn()));
  MESSAGE("stories260K RTN KL: int4 " << kl_int4 << ", attention int8 " << kl_rule << ", placed " << kl_placed
                                      << " (" << placed_bytes << " <= " << rule_bytes << " bytes)");
  CHECK(kl_placed < kl_rule);
  CHECK(kl_placed < kl_int4);

  // A bits-per-weight target over the planned weights.
  QuantizeOptions bpw = rtn();
  bpw.target_bpw = 6.0;
  bpw.budget_candidates = budget.budget_candidates;
  QuantizeOutcome bpw_outcome;
  quantized(bpw, &bpw_outcome);
  CHECK(bpw_outcome.figures["bit_budget"]["planned_bits_per_weight"].get<double>() <= 6.0);
  CHECK(bpw_outcome.figures["bit_budget"]["planned_bits_per_weight"].get<double>() > 5.5);

  // A quantized embedding is planned with the rest: the tied embedding / head gets a candidate.
  QuantizeOptions with_embedding = budget;
  with_embedding.embedding = QuantScheme(8, 32, true);
  with_embedding.target_bytes = rule_bytes / 2;
  with_embedding.budget_candidates = {QuantScheme(2, 32, true), QuantScheme(4, 32, true), QuantScheme(8, 32, true)};
  QuantizeOutcome embedding_outcome;
  const Model embedded = quantized(with_embedding, &embedding_outcome);
  CHECK(embedding_outcome.figures["bit_budget"]["tensors"].size() == 36);
  CHECK(embedded.quantized.count(names::kEmbedTokens) == 1);
  CHECK(modelSize(embedded).bytes <= rule_bytes / 2);

  // A target below the tensors outside the plan (the float embedding) says what to do.
  QuantizeOptions tiny = budget;
  tiny.target_bytes = 1000;
  checkError(errorOf([&] { quantized(tiny); }), "target_bytes 1000 is below the");
  checkError(errorOf([&] { quantized(tiny); }), "quantize the embedding (embedding=int8-g32)");
}

TEST_CASE("bit budget: options that cannot work are refused before any work") {
  PassRegistry registry;
  registerBuiltinPasses(registry);
  const auto optionsError = [&](const std::string& text) {  // what PassManager::validate runs first
    return errorOf([&] {
      const PassInvocation written = parsePipeline(text).at(0);
      const PassInvocation resolved = registry.resolve(written);
      std::unique_ptr<Pass> pass = registry.create(resolved.name);
      if (resolved.name != written.name) pass->setSpelledName(written.name);
      pass->parseOptions(resolved.options);
      pass->validateOptions();
      CHECK(pass->traits().needs_calibration);  // a budget measures on data, even for rtn
    });
  };
  checkError(optionsError("rtn(target_bytes=1000,target_bpw=4)"), "give target_bytes or target_bpw, not both");
  checkError(optionsError("gptq(candidates={int4-g32,int8-g32})"),
             "candidates are chosen among by a budget: give target_bytes or target_bpw too");
  checkError(optionsError("quantize(method=gptq,target_bpw=5,candidates={int4-g32,int9-g32})"),
             "option 'candidates' of pass 'quantize'");
  CHECK(optionsError("rtn(target_bpw=5,candidates={int4-g32,int5-g64})") == "no error");
}
