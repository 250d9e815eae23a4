// Exact (bit-preserving, dtype-generic) layout operations used by checkpoint importers and
// exporters: nothing here rounds, so a convert-and-back round trip is bit for bit.
#pragma once

#include <vector>

#include "lib/model/tensor.h"

namespace slmc {

Tensor transpose2d(const Tensor& t);                                // [r, c] -> [c, r]
Tensor sliceRows(const Tensor& t, int64_t begin, int64_t end);      // rows [begin, end) of dim 0
Tensor concatRows(const std::vector<Tensor>& parts);                // along dim 0, same dtype
// Reorders rows of a q/k projection within each head between Meta's interleaved rotary layout
// (pairs 2i, 2i+1) and Hugging Face's rotate-half layout (pairs i, i + head_dim/2).
Tensor interleavedToHalfRotary(const Tensor& weight, int64_t num_heads);
Tensor halfToInterleavedRotary(const Tensor& weight, int64_t num_heads);

}  // namespace slmc
