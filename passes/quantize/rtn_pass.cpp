#include "passes/quantize/rtn_pass.h"

#include "passes/quantize/quantize_model.h"

namespace slmc {

RtnPass::RtnPass()
    : WeightQuantizePass(QuantMethod::Rtn, "round-to-nearest weight quantization (no data; with data, an importance-"
                                           "weighted scale search)") {}

void RtnPass::setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions&, const PassContext& context) const {
  // RTN needs no data, but with data its search weighs each column by the input's E[x²].
  o.rtn_importance = o.scale_search && context.hasCalibration() && o.observer.kind == ObserverKind::MinMax;
}

}  // namespace slmc
