// `gptq`: GPTQ weight quantization (Frantar et al. 2022): columns quantized in order, each one's
// error spread over the columns not yet quantized through the inverse Hessian of its layer's
// calibration input.
#pragma once

#include "passes/quantize/weight_quantize_pass.h"

namespace slmc {

class GptqPass : public WeightQuantizePass {
 public:
  GptqPass();

  Option<double> damp{*this, "damp", "damping added to the Hessian's diagonal, as a fraction of its mean", 0.01};
  Option<bool> act_order{*this, "act_order", "quantize columns in decreasing Hessian-diagonal order", false};
  Option<int64_t> block_size{*this, "block_size", "columns per lazy batch update", 128};

  void validateOptions() const override;

 protected:
  void setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext& context) const override;
};

}  // namespace slmc
