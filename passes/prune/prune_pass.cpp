#include "passes/prune/prune_pass.h"

#include <cmath>

#include "lib/support/error.h"
#include "passes/prune/prune_model.h"

namespace slmc {

namespace {
std::string fractionProblem(double v) {
  return std::isfinite(v) && v >= 0 && v < 1 ? std::string() : "sparsity must be in [0, 1)";
}

std::vector<double> parseFractions(const OptionList& items) {
  std::vector<double> out;
  for (const std::string& item : items) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == item.size() && !item.empty(), "layer_sparsity value '" + item + "' is not a number");
    require(fractionProblem(v).empty(), "layer_sparsity value " + item + " is outside [0, 1)");
    out.push_back(v);
  }
  return out;
}
}  // namespace

PrunePass::PrunePass() : Pass("prune", "unstructured or N:M weight pruning: magnitude, Wanda, SparseGPT") {
  method.choices({"magnitude", "wanda", "sparsegpt"});
  sparsity.check([](const double& v) { return fractionProblem(v); });
  nm.check([](const std::string& v) {
    if (v.empty()) return std::string();
    try {
      parseNM(v);
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  });
  damp.range(0.0, 1.0);
  block_size.range(1, 1 << 20);
}

PassTraits PrunePass::traits() const {
  PassTraits t;
  t.needs_calibration = pruneMethodNeedsCalibration(parsePruneMethod(method));
  t.needs_float_weights = true;  // a quantized weight's zeros are grid points, not a mask to choose
  return t;
}

void PrunePass::validateOptions() const {
  const auto onlyFor = [&](const OptionBase& option, const char* which) {
    require(!option.isSet() || method.value() == which, "option '" + option.name() + "' of pass 'prune' applies to method=" +
                                                            which + " only (remove it or change method)");
  };
  onlyFor(damp, "sparsegpt");
  onlyFor(block_size, "sparsegpt");
  require(!(nm.isSet() && !nm.value().empty() && sparsity.isSet()),
          "options 'sparsity' and 'nm' of pass 'prune' exclude each other (N:M fixes the fraction: keep one)");
  require(!(nm.isSet() && !nm.value().empty() && layer_sparsity.isSet()),
          "options 'layer_sparsity' and 'nm' of pass 'prune' exclude each other (keep one)");
  parseFractions(layer_sparsity);
}

PassResult PrunePass::run(Model& model, PassContext& context) {
  PruneOptions o;
  o.method = parsePruneMethod(method);
  if (!nm.value().empty())
    o.target = parseNM(nm);
  else
    o.target.sparsity = sparsity;
  o.layer_sparsity = parseFractions(layer_sparsity);
  o.skip = skip;
  o.sparsegpt.damp = damp;
  o.sparsegpt.block_size = block_size;
  checkPruneOptions(model, o);

  LayerwiseCalibrationOptions cal;
  cal.forward.seed = context.seed;
  cal.forward.sample_rows = 0;  // pruning needs XᵀX only
  cal.stats_cache = context.stats_cache;
  cal.cache_key_extra = {{"pass", argument()}, {"options", optionsJson()}};
  const CalibrationSamples& samples = context.calibrationIf(pruneMethodNeedsCalibration(o.method));
  const std::string label = "prune " + std::string(pruneMethodName(o.method));
  const auto progress = [&](int64_t done, int64_t total) { context.progress(label, done, total); };
  PruneOutcome outcome = pruneModel(model, o, samples.ids, samples.num_samples, samples.seq_len, cal, progress);
  PassResult result;
  char achieved[32];
  std::snprintf(achieved, sizeof achieved, "%.1f%%", 100.0 * outcome.figures["sparsity_of_pruned_weights"].get<double>());
  result.summary = "pruned " + std::to_string(outcome.pruned_tensors) + " tensors to " +
                   (o.target.isNM() ? o.target.name() : std::string(achieved)) + " with " +
                   pruneMethodName(o.method) + " (" + achieved + " zeros)";
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
