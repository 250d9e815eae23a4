#include "passes/quantize/weight_quantize_pass.h"

#include "lib/support/error.h"
#include "lib/support/join_text.h"
#include "passes/quantize/quantize_model.h"

namespace slmc {

WeightQuantizePass::WeightQuantizePass(QuantMethod method, std::string description)
    : Pass(quantMethodName(method), std::move(description)), method_(method) {
  bits.choices(integerBitWidths());  // the type table's integer grids
  group_size.range(0, 1 << 20);
  observer.choices({"minmax", "percentile", "mse", "kl"});
  percentile.range(50.0, 100.0);
  target_bytes.range(0, int64_t{1} << 50);
  target_bpw.range(0.0, 32.0);
  budget_samples.range(1, 1 << 20);
}

PassTraits WeightQuantizePass::traits() const {
  PassTraits t;
  // A budget measures its errors on calibration data, whatever the method.
  t.needs_calibration = methodNeedsCalibration(method_) || target_bytes.value() > 0 || target_bpw.value() > 0;
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
  for (const std::string& candidate : candidates.value()) {
    try {
      parseSchemeName(candidate);
    } catch (const Error& e) {
      throw Error("option 'candidates' of pass '" + spelledName() + "': " + e.what());
    }
  }
  require(target_bytes.value() == 0 || target_bpw.value() == 0,
          "give target_bytes or target_bpw, not both (pass '" + spelledName() + "')");
  require(!candidates.isSet() || target_bytes.value() > 0 || target_bpw.value() > 0,
          "candidates are chosen among by a budget: give target_bytes or target_bpw too (pass '" + spelledName() + "')");
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
  o.target_bytes = target_bytes;
  o.target_bpw = target_bpw;
  for (const std::string& candidate : candidates.value()) o.budget_candidates.push_back(parseSchemeName(candidate));
  o.budget_samples = budget_samples;
  o.bf16 = bf16;

  LayerwiseCalibrationOptions cal;
  cal.forward.seed = context.seed;
  cal.forward.sample_rows = 0;  // only smoothquant's static activation scales keep input rows
  cal.forward.bf16 = bf16;
  cal.stats_cache = context.stats_cache;
  cal.cache_key_extra = {{"pass", argument()}, {"options", optionsJson()}};
  setMethodOptions(o, cal, context);

  const CalibrationSamples& samples = context.calibrationIf(usesCalibration(o));
  const std::string label = "quantize " + argument();
  const auto progress = [&](int64_t done, int64_t total) { context.progress(label, done, total); };
  QuantizeOutcome outcome = quantizeModel(model, o, samples.ids, samples.num_samples, samples.seq_len, cal, progress);
  PassResult result;
  const std::string placed = o.budgeted() ? "a budget of " +
                                                (o.target_bytes > 0 ? std::to_string(o.target_bytes) + " bytes"
                                                                    : std::to_string(o.target_bpw) + " bits per weight") +
                                                " among " + joinText(candidates.value(), ", ")
                                          : schemeName(o.scheme);
  result.summary = "quantized " + std::to_string(outcome.quantized_tensors) + " tensors to " + placed +
                   (o.embedding ? " (embedding " + schemeName(*o.embedding) + ")" : "") + " with " + argument() +
                   summaryNote();
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
