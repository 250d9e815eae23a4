// `quantize`: post-training weight quantization (RTN, GPTQ, AWQ) and SmoothQuant W8A8, as a
// pass. Only wiring: options → QuantizeOptions → quantizeModel() (quantize_model.h).
#pragma once

#include "lib/pipeline/pass.h"

namespace slmc {

class QuantizePass : public Pass {
 public:
  QuantizePass();

  Option<std::string> method{*this, "method", "algorithm: rtn (no data), gptq, awq, smoothquant (W8A8)", "rtn"};
  Option<int64_t> bits{*this, "bits", "weight bit width (smoothquant: default 8)", 4};
  Option<int64_t> group_size{*this, "group_size", "columns sharing a scale; 0 = per-channel (smoothquant: default 0)",
                             128};
  Option<bool> symmetric{*this, "symmetric", "symmetric grid (zero point fixed); false: a zero point per group", true};
  Option<bool> strict_groups{*this, "strict_groups",
                             "fail on rows the group size does not divide instead of quantizing them per-channel",
                             false};
  Option<OptionList> keep{*this, "keep",
                          "weights left in float: substrings of tensor names, or re:REGEX for a whole-name match",
                          OptionList{"lm_head", "embed"}};
  Option<std::string> embedding{*this, "embedding",
                                "scheme of the embedding and output head (e.g. int8-channel, int4-g32), quantized whatever "
                                "keep says; keep: leave them to keep and the main scheme",
                                "keep"};
  Option<OptionList> schemes{*this, "schemes",
                              "per-tensor schemes PATTERN=SCHEME (first match wins; patterns as in keep), e.g. "
                              "{mlp.down_proj=int8-g32}",
                              OptionList{}};
  Option<bool> scale_search{*this, "scale_search",
                            "rtn, gptq: each group's scale (and zero) searched for the least squared error weighted by "
                            "the calibration input's E[x^2] per column (rtn: when --data is given); observer minmax only",
                            true};
  Option<std::string> observer{*this, "observer", "how weight grids are fit (rtn, gptq): minmax, percentile, mse, kl",
                               "minmax"};
  Option<double> percentile{*this, "percentile", "percentile of |w| or |x| kept by the percentile observer", 99.99};
  Option<double> damp{*this, "damp", "gptq: damping added to the Hessian's diagonal, as a fraction of its mean", 0.01};
  Option<bool> act_order{*this, "act_order", "gptq: quantize columns in decreasing Hessian-diagonal order", false};
  Option<int64_t> block_size{*this, "block_size", "gptq: columns per lazy batch update", 128};
  Option<int64_t> awq_grid{*this, "awq_grid", "awq: scale exponents alpha tried in [0, 1)", 20};
  Option<bool> awq_clip{*this, "awq_clip", "awq: search a clipping ratio per group", true};
  Option<double> alpha{*this, "alpha", "smoothquant: migration strength (0: none, 1: all to the weights)", 0.5};
  Option<int64_t> act_bits{*this, "act_bits", "smoothquant: activation bit width", 8};
  Option<std::string> act_mode{*this, "act_mode",
                               "smoothquant: dynamic (scale per token) or static (one calibrated scale per tensor)",
                               "dynamic"};
  Option<std::string> act_observer{*this, "act_observer",
                                   "smoothquant static: how the activation range is fit: minmax, percentile, mse, kl",
                                   "minmax"};
  Option<int64_t> sample_rows{*this, "sample_rows", "smoothquant static: token rows per layer input kept for the observer",
                              4096};

  PassTraits traits() const override;
  void validateOptions() const override;
  std::string withoutCalibration() const override { return "use method=rtn"; }
  PassResult run(Model& model, PassContext& context) override;
};

}  // namespace slmc
