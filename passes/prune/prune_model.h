// Unstructured and N:M pruning of a model's linear weights: the driver the `prune` pass wires
// to its options. Magnitude needs no data; Wanda and SparseGPT prune one layer at a time from
// the statistics of calibration/'s sequential driver (the same one GPTQ uses), so layer i is
// calibrated on the outputs of the already pruned layers.
//
// Pruned weights become exactly 0 and the model records each weight's pattern in
// Model::sparsity, which exports carry and quantization respects (a pruned weight keeps its
// group's zero point).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibration/layerwise_calibration.h"
#include "lib/model/model.h"
#include "passes/prune/sparsegpt.h"
#include "passes/prune/sparsity_target.h"

namespace slmc {

enum class PruneMethod { Magnitude, Wanda, SparseGpt };
PruneMethod parsePruneMethod(const std::string& name);
const char* pruneMethodName(PruneMethod method);
bool pruneMethodNeedsCalibration(PruneMethod method);

struct PruneOptions {
  PruneMethod method = PruneMethod::Magnitude;
  SparsityTarget target;  // a fraction of zeros, or N:M
  // Unstructured only: one fraction per layer instead of target.sparsity (empty: uniform).
  std::vector<double> layer_sparsity;
  // Weights left dense: substrings of tensor names, or "re:REGEX" (as quantize's keep).
  std::vector<std::string> skip = {"lm_head", "embed"};
  SparseGptOptions sparsegpt;
};

struct PruneOutcome {
  nlohmann::json figures = nlohmann::json::object();
  std::vector<std::string> warnings;
  int64_t pruned_tensors = 0;
};

// Checks options against the model before any work (sparsity range, layer_sparsity length, N:M
// dividing every target's rows, float weights); throws Error naming the problem and the fix.
void checkPruneOptions(const Model& model, const PruneOptions& options);

// Prunes `model` in place. `ids` [num_samples, seq_len] are used by calibrated methods only;
// `progress(done, total)` per layer.
PruneOutcome pruneModel(Model& model, const PruneOptions& options, const std::vector<int32_t>& ids, int64_t num_samples,
                        int64_t seq_len, const LayerwiseCalibrationOptions& calibration,
                        const std::function<void(int64_t, int64_t)>& progress = {});

// Per layer, the fraction of exact zeros over the layer's 2-D linear weights (for reports).
nlohmann::json layerSparsity(const Model& model);

}  // namespace slmc
