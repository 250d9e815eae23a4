// `rtn`: round-to-nearest weight quantization. No data needed; with calibration data its scale
// search weighs each input column by E[x²].
#pragma once

#include "passes/quantize/weight_quantize_pass.h"

namespace slmc {

class RtnPass : public WeightQuantizePass {
 public:
  RtnPass();

 protected:
  void setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext& context) const override;
};

}  // namespace slmc
