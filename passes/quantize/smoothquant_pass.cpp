#include "passes/quantize/smoothquant_pass.h"

#include "passes/quantize/quantize_model.h"

namespace slmc {

SmoothQuantPass::SmoothQuantPass()
    : WeightQuantizePass(QuantMethod::SmoothQuant, "SmoothQuant W8A8: smoothed weights and quantized activations") {
  // W8A8 per channel by default, the scheme SmoothQuant is defined for.
  bits.defaultTo(8);
  group_size.defaultTo(0);
  alpha.range(0.0, 1.0);
  act_bits.choices({4, 8});
  act_mode.choices({"dynamic", "static"});
  act_observer.choices({"minmax", "percentile", "mse", "kl"});
  sample_rows.range(1, 1 << 24);
}

void SmoothQuantPass::setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext&) const {
  o.smooth_alpha = alpha;
  o.act_bits = static_cast<int>(act_bits.value());
  o.act_dynamic = act_mode.value() == "dynamic";
  o.act_observer.kind = parseObserverKind(act_observer);
  o.act_observer.percentile = percentile;
  cal.forward.sample_rows = o.act_dynamic ? 0 : sample_rows.value();
}

std::string SmoothQuantPass::summaryNote() const {
  return " (activations int" + std::to_string(act_bits.value()) + " " + act_mode.value() + ")";
}

}  // namespace slmc
