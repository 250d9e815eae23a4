#include "passes/prune/weight_prune_pass.h"

#include <cmath>
#include <cstdio>

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

WeightPrunePass::WeightPrunePass(PruneMethod method, std::string description)
    : Pass(pruneMethodName(method), std::move(description)), method_(method) {
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
}

PassTraits WeightPrunePass::traits() const {
  PassTraits t;
  t.needs_calibration = pruneMethodNeedsCalibration(method_);
  t.needs_float_weights = true;  // a quantized weight's zeros are grid points, not a mask to choose
  return t;
}

void WeightPrunePass::validateOptions() const {
  require(!(nm.isSet() && !nm.value().empty() && sparsity.isSet()),
          "options 'sparsity' and 'nm' of pass '" + spelledName() +
              "' exclude each other (N:M fixes the fraction: keep one)");
  require(!(nm.isSet() && !nm.value().empty() && layer_sparsity.isSet()),
          "options 'layer_sparsity' and 'nm' of pass '" + spelledName() + "' exclude each other (keep one)");
  parseFractions(layer_sparsity);
}

void WeightPrunePass::setMethodOptions(PruneOptions&) const {}

PassResult WeightPrunePass::run(Model& model, PassContext& context) {
  PruneOptions o;
  o.method = method_;
  if (!nm.value().empty())
    o.target = parseNM(nm);
  else
    o.target.sparsity = sparsity;
  o.layer_sparsity = parseFractions(layer_sparsity);
  o.skip = skip;
  setMethodOptions(o);
  checkPruneOptions(model, o);

  LayerwiseCalibrationOptions cal;
  cal.forward.seed = context.seed;
  cal.forward.sample_rows = 0;  // pruning needs XᵀX only
  cal.stats_cache = context.stats_cache;
  cal.cache_key_extra = {{"pass", argument()}, {"options", optionsJson()}};
  const CalibrationSamples& samples = context.calibrationIf(pruneMethodNeedsCalibration(o.method));
  const std::string label = "prune " + argument();
  const auto progress = [&](int64_t done, int64_t total) { context.progress(label, done, total); };
  PruneOutcome outcome = pruneModel(model, o, samples.ids, samples.num_samples, samples.seq_len, cal, progress);
  PassResult result;
  char achieved[32];
  std::snprintf(achieved, sizeof achieved, "%.1f%%", 100.0 * outcome.figures["sparsity_of_pruned_weights"].get<double>());
  result.summary = "pruned " + std::to_string(outcome.pruned_tensors) + " tensors to " +
                   (o.target.isNM() ? o.target.name() : std::string(achieved)) + " with " + argument() + " (" +
                   achieved + " zeros)";
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
