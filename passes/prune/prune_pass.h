// `prune`: unstructured and N:M weight pruning (magnitude, Wanda, SparseGPT), as a pass. Only
// wiring: options → PruneOptions → pruneModel() (prune_model.h).
#pragma once

#include "lib/pipeline/pass.h"

namespace slmc {

class PrunePass : public Pass {
 public:
  PrunePass();

  Option<std::string> method{*this, "method", "algorithm: magnitude (no data), wanda, sparsegpt", "magnitude"};
  Option<double> sparsity{*this, "sparsity", "fraction of each pruned weight set to zero, in [0, 1)", 0.5};
  Option<std::string> nm{*this, "nm", "semi-structured N:M instead of a fraction: at most N non-zeros in every M "
                                      "consecutive weights of a row (2:4, 4:8)", ""};
  Option<OptionList> layer_sparsity{*this, "layer_sparsity",
                                    "one fraction per layer instead of sparsity: {0.3,0.4,...}", OptionList{}};
  Option<OptionList> skip{*this, "skip", "weights left dense: substrings of tensor names, or re:REGEX",
                          OptionList{"lm_head", "embed"}};
  Option<double> damp{*this, "damp", "sparsegpt: damping added to the Hessian's diagonal, as a fraction of its mean",
                      0.01};
  Option<int64_t> block_size{*this, "block_size", "sparsegpt: columns per mask selection and lazy batch update", 128};

  PassTraits traits() const override;
  void validateOptions() const override;
  std::string withoutCalibration() const override { return "use method=magnitude"; }
  PassResult run(Model& model, PassContext& context) override;
};

}  // namespace slmc
