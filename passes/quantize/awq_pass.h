// `awq`: activation-aware weight quantization (Lin et al. 2023): each layer's input channels
// scaled by a searched power of their mean activation before rounding, with a clipping search.
#pragma once

#include "passes/quantize/weight_quantize_pass.h"

namespace slmc {

class AwqPass : public WeightQuantizePass {
 public:
  AwqPass();

  Option<int64_t> awq_grid{*this, "awq_grid", "scale exponents alpha tried in [0, 1)", 20};
  Option<bool> awq_clip{*this, "awq_clip", "search a clipping ratio per group", true};

 protected:
  void setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext& context) const override;
};

}  // namespace slmc
