// What the weight-quantization passes (rtn, gptq, awq, smoothquant) share: the scheme, which
// weights, and how RTN grids are fit (every method fits RTN grids somewhere: rtn and smoothquant
// for every weight, gptq column by column, all of them for the embedding), declared once; and
// the one run() that wires options → QuantizeOptions → quantizeModel() (quantize_model.h). A
// method pass adds only its own options and what they set.
#pragma once

#include <string>

#include "lib/pipeline/pass.h"

namespace slmc {

enum class QuantMethod;
struct QuantizeOptions;
struct LayerwiseCalibrationOptions;

class WeightQuantizePass : public Pass {
 public:
  Option<int64_t> bits{*this, "bits", "weight bit width", 4};
  Option<int64_t> group_size{*this, "group_size", "columns sharing a scale; 0 = per-channel", 128};
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
  Option<int64_t> target_bytes{*this, "target_bytes",
                                "size of the whole model as stored: each quantized weight (the embedding too, when "
                                "quantized) gets the candidate scheme a knapsack over Fisher-weighted errors chooses "
                                "(0: no budget)",
                                0};
  Option<double> target_bpw{*this, "target_bpw",
                            "mean bits per quantized weight, scales included, placed as target_bytes does (0: no "
                            "budget)",
                            0.0};
  Option<OptionList> candidates{*this, "candidates", "the schemes a budget chooses among",
                                OptionList{"int4-g32", "int5-g32", "int6-g32", "int8-g32"}};
  Option<int64_t> budget_samples{*this, "budget_samples",
                                 "calibration sequences whose loss gradients (Fisher) weigh the budget's errors", 8};
  Option<bool> scale_search{*this, "scale_search",
                            "each RTN group's scale (and zero) searched for the least squared error weighted by the "
                            "calibration input's E[x^2] per column (rtn: when --data is given); observer minmax only",
                            true};
  Option<std::string> observer{*this, "observer", "how RTN weight grids are fit: minmax, percentile, mse, kl", "minmax"};
  Option<double> percentile{*this, "percentile", "percentile of |w| (smoothquant: and |x|) kept by the percentile observer",
                            99.99};

  Option<bool> bf16{*this, "bf16",
                    "calibration forward and the budget's sensitivity pass under bfloat16 autocast: on CPUs with "
                    "AMX / AVX512-BF16 about 2x faster, the statistics from bf16 products (float64 sums)",
                    false};

  PassTraits traits() const override;
  void validateOptions() const override;
  std::string withoutCalibration() const override { return "use rtn"; }
  PassResult run(Model& model, PassContext& context) final;

 protected:
  WeightQuantizePass(QuantMethod method, std::string description);
  // The method's own options into `o`, and what the calibration forward must keep into `cal`.
  virtual void setMethodOptions(QuantizeOptions& o, LayerwiseCalibrationOptions& cal, const PassContext& context) const;
  // Appended to the summary line (" (activations int8 dynamic)").
  virtual std::string summaryNote() const { return {}; }

 private:
  QuantMethod method_;
};

}  // namespace slmc
