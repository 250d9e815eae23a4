// Post-training quantization of a model's linear weights (and, for SmoothQuant, activations):
// the per-method drivers the `quantize` pass wires to its options. RTN needs no data; GPTQ, AWQ
// and SmoothQuant transform one layer at a time from the statistics of calibration/'s
// sequential driver, so layer i is calibrated on the outputs of the already quantized layers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "calibration/layerwise_calibration.h"
#include "calibration/observers.h"
#include "lib/model/model.h"
#include "passes/quantize/awq.h"
#include "passes/quantize/gptq.h"
#include "passes/weight_selection.h"

namespace slmc {

enum class QuantMethod { Rtn, Gptq, Awq, SmoothQuant };
QuantMethod parseQuantMethod(const std::string& name);
const char* quantMethodName(QuantMethod method);

struct QuantizeOptions {
  QuantMethod method = QuantMethod::Rtn;
  QuantScheme scheme;          // bits, group size (0: per-channel), symmetric
  bool strict_groups = false;  // refuse (instead of per-channel fallback) rows the group does not divide
  // Weights left in float: a plain pattern matches as a substring of the tensor name, "re:..."
  // as a whole-name regular expression.
  std::vector<std::string> keep = {"lm_head", "embed"};
  ObserverOptions observer;  // weight grids (RTN, GPTQ)
  // RTN and GPTQ: each group's grid by the importance-weighted scale search (grid_search.h),
  // with the min-max observer only.
  bool scale_search = true;
  // RTN: run the calibration forward for the search's importance (E[x²] per input column);
  // otherwise RTN needs no data and weighs every weight alike.
  bool rtn_importance = false;
  // The embedding and the output head: quantized (RTN with the scale search) on this scheme
  // whatever `keep` says, or left to `keep` and the main scheme when empty.
  std::optional<QuantScheme> embedding;
  // Per-tensor schemes: the first rule whose pattern (as in keep) matches a weight's name gives
  // its scheme instead of `scheme` (mixed precision by hand, e.g. {"mlp.down_proj", int8-g32}).
  std::vector<std::pair<std::string, QuantScheme>> scheme_rules;
  // Mixed precision by measurement (bit_budget.h): with a target, each weight quantized (the
  // embedding too, when `embedding` quantizes it) gets the candidate scheme the budget plan
  // chooses (before scheme_rules). target_bytes: the whole model as stored; target_bpw: the
  // planned weights' mean bits per weight, scales included.
  int64_t target_bytes = 0;
  double target_bpw = 0;
  std::vector<QuantScheme> budget_candidates;
  int64_t budget_samples = 8;  // calibration sequences of the Fisher sensitivity
  // The budget's sensitivity pass under bfloat16 autocast (the calibration forward's precision
  // is LayerwiseCalibrationOptions::forward.bf16, set from the same option).
  bool bf16 = false;
  bool budgeted() const { return target_bytes > 0 || target_bpw > 0; }
  // Exact tensor names → schemes, checked first (the plan's placement).
  std::map<std::string, QuantScheme> tensor_schemes;
  GptqOptions gptq;
  AwqOptions awq;
  // SmoothQuant: migration strength and the activation quantizer.
  double smooth_alpha = 0.5;
  int act_bits = 8;
  bool act_dynamic = true;  // per-token scales; false: one static per-tensor scale per linear
  ObserverOptions act_observer;
};

struct QuantizeOutcome {
  nlohmann::json figures = nlohmann::json::object();
  std::vector<std::string> warnings;
  int64_t quantized_tensors = 0;
};

// The weights `options` quantizes: every 2-D linear weight of the layers, plus the embedding and
// the output head unless kept (or always, when options.embedding names their scheme).
std::vector<std::string> quantizationTargets(const Model& model, const QuantizeOptions& options);

// The scheme for a [rows, cols] weight: the requested one, or per-channel (with a warning) when
// the group size does not divide cols — or an Error naming the tensor when strict_groups.
QuantScheme schemeForTensor(const std::string& name, int64_t cols, const QuantizeOptions& options,
                            std::vector<std::string>& warnings);

bool methodNeedsCalibration(QuantMethod method);
// Whether quantizeModel runs the calibration forward for these options.
bool usesCalibration(const QuantizeOptions& options);

// "PATTERN=SCHEME" (the last '=' separates them) as a scheme rule; throws Error naming the text.
std::pair<std::string, QuantScheme> parseSchemeRule(const std::string& text);

// Quantizes `model` in place. `calibration` is used by calibrated methods only (ids
// [num_samples, seq_len]); `progress(done, total)` per layer.
QuantizeOutcome quantizeModel(Model& model, const QuantizeOptions& options, const std::vector<int32_t>& ids,
                              int64_t num_samples, int64_t seq_len, const LayerwiseCalibrationOptions& calibration,
                              const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace slmc
