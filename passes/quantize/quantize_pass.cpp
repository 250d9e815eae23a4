#include "passes/quantize/quantize_pass.h"

#include "lib/support/error.h"
#include "passes/quantize/quantize_model.h"

namespace slmc {

QuantizePass::QuantizePass() : Pass("quantize", "post-training quantization: RTN, GPTQ, AWQ weights; SmoothQuant W8A8") {
  method.choices({"rtn", "gptq", "awq", "smoothquant"});
  bits.choices(integerBitWidths());  // the type table's integer grids
  group_size.range(0, 1 << 20);
  observer.choices({"minmax", "percentile", "mse", "kl"});
  act_observer.choices({"minmax", "percentile", "mse", "kl"});
  percentile.range(50.0, 100.0);
  damp.range(0.0, 1.0);
  block_size.range(1, 1 << 20);
  awq_grid.range(1, 1000);
  alpha.range(0.0, 1.0);
  act_bits.choices({4, 8});
  act_mode.choices({"dynamic", "static"});
  sample_rows.range(1, 1 << 24);
}

PassTraits QuantizePass::traits() const {
  PassTraits t;
  t.needs_calibration = methodNeedsCalibration(parseQuantMethod(method));
  t.needs_float_weights = true;  // re-quantizing dequantized weights would compound two grids
  t.quantizes = true;
  return t;
}

void QuantizePass::validateOptions() const {
  // An option of another method is a mistake worth stopping for: it would silently do nothing.
  const auto onlyFor = [&](const OptionBase& option, const char* which) {
    require(!option.isSet() || method.value() == which, "option '" + option.name() + "' of pass 'quantize' applies to method=" +
                                                            which + " only (remove it or change method)");
  };
  onlyFor(damp, "gptq");
  onlyFor(act_order, "gptq");
  onlyFor(block_size, "gptq");
  onlyFor(awq_grid, "awq");
  onlyFor(awq_clip, "awq");
  onlyFor(alpha, "smoothquant");
  onlyFor(act_bits, "smoothquant");
  onlyFor(act_mode, "smoothquant");
  onlyFor(act_observer, "smoothquant");
  onlyFor(sample_rows, "smoothquant");
  if (embedding.value() != "keep") {
    try {
      parseSchemeName(embedding.value());
    } catch (const Error& e) {
      throw Error(std::string("option 'embedding' of pass 'quantize': ") + e.what() + ", or keep");
    }
  }
  for (const std::string& rule : schemes.value()) {
    try {
      parseSchemeRule(rule);
    } catch (const Error& e) {
      throw Error(std::string("option 'schemes' of pass 'quantize': ") + e.what());
    }
  }
  require(!scale_search.isSet() || !scale_search.value() || observer.value() == "minmax",
          "scale_search searches the grid itself: it cannot be combined with observer=" + observer.value() +
              " (drop one of them)");
  require(observer.value() != "kl" || method.value() != "gptq",
          "observer=kl fits activation histograms, not GPTQ's weight groups (use minmax or mse)");
}

PassResult QuantizePass::run(Model& model, PassContext& context) {
  QuantizeOptions o;
  o.method = parseQuantMethod(method);
  const bool smooth = o.method == QuantMethod::SmoothQuant;
  o.scheme.bits = static_cast<int>(smooth && !bits.isSet() ? 8 : bits.value());
  o.scheme.group_size = smooth && !group_size.isSet() ? 0 : group_size.value();
  o.scheme.symmetric = symmetric;
  o.strict_groups = strict_groups;
  o.keep = keep;
  o.observer.kind = parseObserverKind(observer);
  o.observer.percentile = percentile;
  o.scale_search = scale_search;
  // RTN needs no data, but with data its search weighs each column by the input's E[x²].
  o.rtn_importance = o.method == QuantMethod::Rtn && o.scale_search && context.hasCalibration() &&
                     o.observer.kind == ObserverKind::MinMax;
  if (embedding.value() != "keep") o.embedding = parseSchemeName(embedding.value());
  for (const std::string& rule : schemes.value()) o.scheme_rules.push_back(parseSchemeRule(rule));
  o.gptq.damp = damp;
  o.gptq.act_order = act_order;
  o.gptq.block_size = block_size;
  o.gptq.observer = o.observer;
  o.gptq.scale_search = o.scale_search;
  o.awq.grid = awq_grid;
  o.awq.clip = awq_clip;
  o.smooth_alpha = alpha;
  o.act_bits = static_cast<int>(act_bits.value());
  o.act_dynamic = act_mode.value() == "dynamic";
  o.act_observer.kind = parseObserverKind(act_observer);
  o.act_observer.percentile = percentile;

  LayerwiseCalibrationOptions cal;
  cal.forward.seed = context.seed;
  cal.forward.sample_rows = smooth && !o.act_dynamic ? sample_rows.value() : 0;
  cal.stats_cache = context.stats_cache;
  cal.cache_key_extra = {{"pass", argument()}, {"options", optionsJson()}};
  const CalibrationSamples& samples = context.calibrationIf(usesCalibration(o));
  const std::string label = "quantize " + std::string(quantMethodName(o.method));
  const auto progress = [&](int64_t done, int64_t total) { context.progress(label, done, total); };
  QuantizeOutcome outcome = quantizeModel(model, o, samples.ids, samples.num_samples, samples.seq_len, cal, progress);
  PassResult result;
  result.summary = "quantized " + std::to_string(outcome.quantized_tensors) + " tensors to " + schemeName(o.scheme) +
                   (o.embedding ? " (embedding " + schemeName(*o.embedding) + ")" : "") +
                   " with " + quantMethodName(o.method) + (smooth ? " (activations int" + std::to_string(o.act_bits) +
                                                                        " " + act_mode.value() + ")"
                                                                  : "");
  result.figures = std::move(outcome.figures);
  result.warnings = std::move(outcome.warnings);
  return result;
}

}  // namespace slmc
