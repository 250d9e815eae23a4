#include "passes/quantize/gptq_pass.h"

#include "lib/support/error.h"
#include "passes/quantize/quantize_model.h"

namespace slmc {

GptqPass::GptqPass() : WeightQuantizePass(QuantMethod::Gptq, "GPTQ weight quantization (calibrated, second-order)") {
  damp.range(0.0, 1.0);
  block_size.range(1, 1 << 20);
}

void GptqPass::validateOptions() const {
  WeightQuantizePass::validateOptions();
  require(observer.value() != "kl", "observer=kl fits activation histograms, not GPTQ's weight groups (use minmax or mse)");
}

void GptqPass::setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions&, const PassContext&) const {
  o.gptq.damp = damp;
  o.gptq.act_order = act_order;
  o.gptq.block_size = block_size;
  o.gptq.observer = o.observer;
  o.gptq.scale_search = o.scale_search;
}

}  // namespace slmc
