#include "passes/quantize/weight_quantize_pass.h"

#include "lib/support/error.h"
#include "passes/quantize/quantize_model.h"

namespace slmc {

WeightQuantizePass::WeightQuantizePass(QuantMethod method, std::string description)
    : Pass(quantMethodName(method), std::move(description)), method_(method) {
  bits.choices(integerBitWidths());  // the type table's integer grids
  group_size.range(0, 1 << 20);
  observer.choices({"minmax", "percentile", "mse", "kl"});
  percentile.range(50.0, 100.0);
}

PassTraits WeightQuantizePass::traits() const {
  PassTraits t;
  t.needs_calibration = methodNeedsCalibration(method_);
  t.needs_float_weights = true;  // re-quantizing dequantized weights would compound two grids
  t.quantizes = true;
  return t;
}

void WeightQuantizePass::validateOptions() const {
  if (embedding.value() != "keep") {
    try {
      parseSchemeName(embedding.value());
    } catch (const Error& e) {
      throw Error("option 'embedding' of pass '" + spelledName() + "': " + e.what() + ", or keep");
    }
  }
  for (const std::string& rule : schemes.value()) {
    try {
      parseSchemeRule(rule);
    } catch (const Error& e) {
      throw Error("option 'schemes' of pass '" + spelledName() + "': " + e.what());
    }
  }
  require(!scale_search.isSet() || !scale_search.value() || observer.value() == "minmax",
          "scale_search searches the grid itself: it cannot be combined with observer=" + observer.value() +
              " (drop one of them)");
}

void WeightQuantizePass::setMethodOptions(QuantizeOptions&, LayerwiseCalibrationOptions&, const PassContext&) const {}

PassResult WeightQuantizePass::run(Model& model, PassContext& context) {
  QuantizeOptions o;
  o.method = method_;
  o.scheme = QuantScheme(static_cast<int>(bits.value()), group_size, symmetric);
  o.strict_groups = strict_groups;
  o.keep = keep;
  o.observer.kind = parseObserverKind(observer);
  o.observer.percentile = percentile;
  o.scale_search = scale_search;
  if (embedding.value() != "keep") o.embedding = parseSchemeName(embedding.value());
  for (const std::string& rule : schemes.value()) o.scheme_rules.push_back(parseSchemeRule(rule));

  LayerwiseCalibrationOptions cal;
  cal.forward.seed = context.seed;
  cal.forward.sample_rows = 0;  // only smoothquant's static activation scales keep input rows
  cal.stats_cache = context.stats_cache;
  cal.cache_key_extra = {{"pass", argument()}, {"options", optionsJson()}};
  setMethodOptions(o, cal, context);

  const CalibrationSamples& samples = context.calibrationIf(usesCalibration(o));
  const std::string label = "quantize " + argument();
  const auto progress = [&](int64_t done, int64_t total) { context.progress(label, done, total); };
  QuantizeOutcome outcome = quantizeModel(model, o, samples.ids, samples.num_samples, samples.seq_len, cal, progress);
  PassResult result;
  result.summary = "quantized " + std::to_string(outcome.quantized_tensors) + " tensors to " + schemeName(o.scheme) +
                   (o.embedding ? " (embedding " + schemeName(*o.embedding) + ")" : "") + " with " + argument() +
                   summaryNote();
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
