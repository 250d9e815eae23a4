// Magnitude pruning: zero the weights of smallest |w|. The data-free baseline every other pruning
// method is measured against (Han et al., 2015; for LLMs it collapses past ~30% unstructured
// sparsity, which is what Wanda and SparseGPT fix by looking at the inputs).
//
// The default scope is the whole tensor (the classic definition); MaskScope::Row gives every
// output row the same sparsity, the comparison group Wanda uses, which isolates the effect of
// Wanda's activation norms in a comparison.
#pragma once

#include <cstdint>
#include <vector>

#include "passes/prune/sparsity_target.h"

namespace slmc {

// The mask of the lowest |w| of a row-major [rows, cols] weight (selectMask with score |w|).
// Throws Error on a bad target or a non-finite weight.
std::vector<uint8_t> magnitudeMask(const float* w, int64_t rows, int64_t cols, const SparsityTarget& target,
                                   MaskScope scope = MaskScope::Tensor);

}  // namespace slmc
