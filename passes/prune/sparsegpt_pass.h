// `sparsegpt`: SparseGPT (Frantar & Alistarh 2023): masks chosen and the surviving weights
// updated column by column through the inverse Hessian of the layer's calibration input.
#pragma once

#include "passes/prune/weight_prune_pass.h"

namespace slmc {

class SparseGptPass : public WeightPrunePass {
 public:
  SparseGptPass();

  Option<double> damp{*this, "damp", "damping added to the Hessian's diagonal, as a fraction of its mean", 0.01};
  Option<int64_t> block_size{*this, "block_size", "columns per mask selection and lazy batch update", 128};

 protected:
  void setMethodOptions(PruneOptions& o) const override;
};

}  // namespace slmc
