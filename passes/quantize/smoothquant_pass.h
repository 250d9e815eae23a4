// `smoothquant`: W8A8 (Xiao et al. 2023): activation outliers migrated into the weights by a
// per-channel scale folded into the preceding norm, then weights quantized by RTN and
// activations quantized per token (dynamic) or with one calibrated scale per linear (static).
#pragma once

#include "passes/quantize/weight_quantize_pass.h"

namespace slmc {

class SmoothQuantPass : public WeightQuantizePass {
 public:
  SmoothQuantPass();

  Option<double> alpha{*this, "alpha", "migration strength (0: none, 1: all to the weights)", 0.5};
  Option<int64_t> act_bits{*this, "act_bits", "activation bit width", 8};
  Option<std::string> act_mode{*this, "act_mode",
                               "dynamic (scale per token) or static (one calibrated scale per tensor)", "dynamic"};
  Option<std::string> act_observer{*this, "act_observer",
                                   "static: how the activation range is fit: minmax, percentile, mse, kl", "minmax"};
  Option<int64_t> sample_rows{*this, "sample_rows", "static: token rows per layer input kept for the observer", 4096};

 protected:
  void setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext& context) const override;
  std::string summaryNote() const override;
};

}  // namespace slmc
