#include "passes/prune/prune_structured_pass.h"

#include <cmath>

#include "lib/support/error.h"
#include "passes/prune/structured_prune.h"

namespace slmc {

namespace {
std::string fractionProblem(double v) {
  return std::isfinite(v) && v >= 0 && v < 1 ? std::string() : "must be a fraction in [0, 1)";
}
}  // namespace

PruneStructuredPass::PruneStructuredPass()
    : Pass("prune_structured", "structured pruning that shrinks tensors: attention heads, MLP channels, layers") {
  heads.check([](const double& v) { return fractionProblem(v); });
  ffn.check([](const double& v) { return fractionProblem(v); });
  layers.range(0, 1 << 20);
}

PassTraits PruneStructuredPass::traits() const {
  PassTraits t;
  t.needs_calibration = true;  // importance comes from activations on calibration data
  t.needs_float_weights = true;
  return t;
}

void PruneStructuredPass::validateOptions() const {
  require(heads > 0 || ffn > 0 || layers > 0,
          "pass 'prune_structured' removes nothing: set heads, ffn and/or layers (e.g. heads=0.25,ffn=0.3,layers=1)");
}

PassResult PruneStructuredPass::run(Model& model, PassContext& context) {
  StructuredPruneOptions o;
  o.heads = heads;
  o.ffn = ffn;
  o.layers = layers;
  LayerwiseOptions forward;
  forward.seed = context.seed;
  forward.sample_rows = 0;
  const CalibrationSamples& samples = context.calibration();
  const ModelConfig before = model.config;
  StructuredPruneOutcome outcome =
      structuredPrune(model, o, samples.ids, samples.num_samples, samples.seq_len, forward,
                      [&](int64_t done, int64_t total) { context.progress("prune_structured", done, total); });
  const ModelConfig& after = model.config;
  PassResult result;
  result.summary = "layers " + std::to_string(before.num_layers) + " → " + std::to_string(after.num_layers) +
                   ", heads " + std::to_string(before.num_heads) + "/" + std::to_string(before.num_kv_heads) + " → " +
                   std::to_string(after.num_heads) + "/" + std::to_string(after.num_kv_heads) + ", ffn " +
                   std::to_string(before.intermediate_size) + " → " + std::to_string(after.intermediate_size);
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
