#include "passes/quantize/awq_pass.h"

#include "passes/quantize/quantize_model.h"

namespace slmc {

AwqPass::AwqPass() : WeightQuantizePass(QuantMethod::Awq, "AWQ weight quantization (calibrated activation-aware scales)") {
  awq_grid.range(1, 1000);
}

void AwqPass::setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions&, const PassContext&) const {
  o.awq.grid = awq_grid;
  o.awq.clip = awq_clip;
}

}  // namespace slmc
