// What the unstructured / N:M pruning passes (magnitude, wanda, sparsegpt) share: the target
// (a fraction, one per layer, or N:M) and which weights, declared once; and the one run() that
// wires options → PruneOptions → pruneModel() (prune_model.h). A method pass adds only its own
// options and what they set.
#pragma once

#include <string>

#include "lib/pipeline/pass.h"

namespace slmc {

enum class PruneMethod;
struct PruneOptions;

class WeightPrunePass : public Pass {
 public:
  Option<double> sparsity{*this, "sparsity", "fraction of each pruned weight set to zero, in [0, 1)", 0.5};
  Option<std::string> nm{*this, "nm", "semi-structured N:M instead of a fraction: at most N non-zeros in every M "
                                      "consecutive weights of a row (2:4, 4:8)", ""};
  Option<OptionList> layer_sparsity{*this, "layer_sparsity",
                                    "one fraction per layer instead of sparsity: {0.3,0.4,...}", OptionList{}};
  Option<OptionList> skip{*this, "skip", "weights left dense: substrings of tensor names, or re:REGEX",
                          OptionList{"lm_head", "embed"}};

  PassTraits traits() const override;
  void validateOptions() const override;
  std::string withoutCalibration() const override { return "use magnitude"; }
  PassResult run(Model& model, PassContext& context) final;

 protected:
  WeightPrunePass(PruneMethod method, std::string description);
  // The method's own options into `o`.
  virtual void setMethodOptions(PruneOptions& o) const;

 private:
  PruneMethod method_;
};

}  // namespace slmc
