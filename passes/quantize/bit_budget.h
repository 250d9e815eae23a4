// Mixed precision under a size budget: which of a few candidate schemes each weight gets so that
// the model stays within a byte target and the summed sensitivity is least. The sensitivity of a
// weight W on a scheme is its second-order loss increase
//   E(W, scheme) = ½ Σ F_rc · (Ŵ_rc − W_rc)²,
// Ŵ the scheme's round-to-nearest weights on searched grids (grid_search.h) and F the diagonal
// empirical Fisher of the float model on a few calibration sequences (weight_fisher.h), so that
// errors of an early q_proj and a late down_proj are in the same unit (nats). Choosing the
// schemes is then a multiple-choice knapsack, solved exactly on bytes rounded up to a small unit
// (so the plan never exceeds the budget). llama.cpp's Q4_K_M places bits by a hand rule on
// tensor names; this places them by measurement.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

struct QuantizeOptions;

// One weight's candidates: bytes[i] and error[i] for candidate scheme i.
struct BudgetItem {
  std::string name;
  std::vector<int64_t> bytes;
  std::vector<double> error;
};

struct BudgetPlan {
  std::vector<size_t> choice;  // per item, the candidate index
  int64_t bytes = 0;           // Σ bytes of the choices (exact, not rounded)
  double error = 0;            // Σ error of the choices
};

// The choices of least total error whose total bytes are at most `budget_bytes`. Exact on bytes
// rounded up to budget_bytes / 2^16 (each item's cost rounded up, so the plan always fits).
// Throws Error when even the smallest candidates of every item exceed the budget.
BudgetPlan planBudget(const std::vector<BudgetItem>& items, int64_t budget_bytes);

// What a budgeted quantization places: the scheme of each weight it plans, and the report's
// figures (the target, the plan's bytes, one row per weight with its error on every candidate).
struct BitPlacement {
  std::map<std::string, QuantScheme> schemes;
  nlohmann::json figures;
};

// Plans the schemes of `planned` (every weight the pass quantizes, the embedding and head too
// when they are quantized) among options.budget_candidates for options.target_bytes (the whole
// model as stored: every other tensor counted at its size) or options.target_bpw (the planned
// weights' mean bits per weight, scales included). `ids`: [num_samples, seq_len] calibration
// tokens, of which the first options.budget_samples rows measure the Fisher information.
BitPlacement placeBits(const Model& model, const QuantizeOptions& options, const std::vector<std::string>& planned,
                       const std::vector<int32_t>& ids, int64_t num_samples, int64_t seq_len);

}  // namespace slmc
