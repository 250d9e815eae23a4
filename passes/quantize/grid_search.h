// Per-group scale (and zero) search: of a few candidate grids, the one whose round-to-nearest
// codes give the least importance-weighted squared error
//   E(grid) = Σ_i w_i · (x_i − dequant(quant(x_i)))²,
// the w_i being the calibration input's E[x²] for the group's columns (the diagonal of GPTQ's
// Hessian, llama.cpp's imatrix: the output error of a diagonal approximation of XᵀX), or 1 when
// there is no data. The ideas are llama.cpp's make_qx_quants (symmetric) and make_qkx2_quants
// (asymmetric) in ggml-quants.c, adapted to slmc's storage (float16 scale, integer zero):
//
//   symmetric   the plain signed-extreme grid d0 = extreme / −2^(b−1) (gridForRange), then
//               d = extreme / −(2^(b−1) + k/10) for k = −9..9, each also refined to the
//               weighted least-squares scale of its codes Σ w·x·l / Σ w·l² (l = q − zero);
//   asymmetric  the plain min-max grid, then (max − min) / (maxq + k/10) for k = −10..10, each
//               also refined to the weighted least-squares (scale, offset) of its codes, the
//               offset kept ≤ 0 and rounded to an integer zero.
//
// Every candidate is scored on exactly what would be stored (float16 scale, clamped integer
// zero, codes re-rounded on that grid), and the plain grid wins ties: the search is never worse
// than the plain grid on E (up to float rounding: the search sums E in float lanes, so two
// candidates within ~1e-6 of each other may rank either way). Pure functions, safe to call from
// several threads.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/quantized_tensor.h"

namespace slmc {

// E(grid) of x[0..n) with per-element importance w (nullptr: all 1), in float64.
double weightedGridError(const float* x, const float* importance, int64_t n, GroupGrid grid, int bits);

// The best grid of the candidates above for x[0..n) (importance may be nullptr).
GroupGrid searchGroupGrid(const float* x, const float* importance, int64_t n, int bits, bool symmetric);

// searchGroupGrid for every [row, group] of a row-major [rows, cols] weight (row-major
// [rows, groupsPerRow]); column_importance: [cols] (the same for every row) or nullptr.
std::vector<GroupGrid> searchedGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                     const float* column_importance);

}  // namespace slmc
