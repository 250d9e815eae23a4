#include "passes/prune/sparsegpt_pass.h"

#include "passes/prune/prune_model.h"

namespace slmc {

SparseGptPass::SparseGptPass()
    : WeightPrunePass(PruneMethod::SparseGpt, "SparseGPT pruning with second-order weight updates (calibrated)") {
  damp.range(0.0, 1.0);
  block_size.range(1, 1 << 20);
}

void SparseGptPass::setMethodOptions(PruneOptions& o) const {
  o.sparsegpt.damp = damp;
  o.sparsegpt.block_size = block_size;
}

}  // namespace slmc
