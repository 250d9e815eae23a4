// `prune_structured`: removes whole attention heads (or KV groups), MLP channels and layers, so
// the tensors and config.json really shrink. Only wiring: options → StructuredPruneOptions →
// structuredPrune() (structured_prune.h).
#pragma once

#include "lib/pipeline/pass.h"

namespace slmc {

class PruneStructuredPass : public Pass {
 public:
  PruneStructuredPass();

  Option<double> heads{*this, "heads", "fraction of attention heads removed (whole KV groups, or the same number "
                                       "from every group)", 0.0};
  Option<double> ffn{*this, "ffn", "fraction of MLP intermediate channels removed in every layer", 0.0};
  Option<int64_t> layers{*this, "layers", "number of whole layers removed (lowest block influence)", 0};

  PassTraits traits() const override;
  void validateOptions() const override;
  PassResult run(Model& model, PassContext& context) override;
};

}  // namespace slmc
