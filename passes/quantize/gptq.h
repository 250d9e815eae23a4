// GPTQ (Frantar et al., 2022): quantize a linear weight column by column, pushing each column's
// rounding error onto the columns not yet quantized through the inverse Hessian of the layer's
// reconstruction loss ‖W X - Ŵ X‖², so the layer's output error, not the weight error, is what
// is minimized.
//
// The Hessian is the one SiteStats::hessian() gives: H = 2/n·XᵀX [cols, cols] over the n
// calibration tokens X [n, cols]. Any positive multiple gives the same quantization (damping is
// relative to mean(diag H)); only the reported errors scale with it.
//
// Algorithm (the paper's Algorithm 1 with the reference code's details):
//   1. dead inputs (H_ii == 0): H_ii = 1 and the weight column set to 0;
//   2. λ = damp·mean(diag H) added to the diagonal; U = upper Cholesky factor of H⁻¹. When H is
//      not positive definite the damping is retried ×10 up to three times, then Error;
//   3. columns are walked in blocks of block_size: inside a block each column is rounded and its
//      scaled error err = (w - q)/U_jj is subtracted from the block's later columns
//      (err·U_j,j+1:); after the block, all later columns receive the block's errors in one
//      matrix product (the lazy batch update);
//   4. grids: each group's grid comes from the scale search (grid_search.h) weighted by the
//      input's importance diag(H) over the group's columns (scale_search, with the min-max
//      observer), or else from the observer's range. Without act_order the grid of a group is fit
//      on the current, already-updated weights when the walk reaches the group's first column
//      (the reference behaviour; blocks are widened to a multiple of the group size so that the
//      whole group has received every earlier update). With act_order columns are walked in
//      decreasing diag(H) order and the grids are fit beforehand on the original weights of
//      each contiguous group (AutoGPTQ's static_groups), so storage keeps contiguous groups.
//
// Precision: H, its factorization and the inverse are float64 (H = XᵀX is often badly
// conditioned and the factor's accuracy sets every update); the weights, the per-column updates
// and the lazy batch product are float32, as in the reference implementation: rounding errors
// of 1e-7 relative are far below the quantization error being propagated, and float32 halves
// memory and doubles the speed of the dominant rows·cols² product.
#pragma once

#include <cstdint>
#include <vector>

#include "calibration/observers.h"
#include "lib/model/quantized_tensor.h"

namespace slmc {

struct GptqOptions {
  double damp = 0.01;        // λ = damp·mean(diag H)
  int64_t block_size = 128;  // columns per lazy batch update
  bool act_order = false;    // walk columns in decreasing diag(H) order (static groups)
  ObserverOptions observer;  // how a group's range is chosen (min-max by default)
  // Grids by the importance-weighted scale search (importance diag(H)); only with the min-max
  // observer (another observer chooses the range itself).
  bool scale_search = true;
};

struct GptqResult {
  QuantizedTensor q;
  double error = 0;      // Σ_r e_r H e_rᵀ with e = Ŵ - W and the caller's H (= 2/n·‖(Ŵ - W) Xᵀ‖²_F)
  double rtn_error = 0;  // the same for RTN with the same scheme and grid choice (search or observer)
  double damp_used = 0;  // the damping fraction that factorized (damp, or ×10, ×100, ×1000)
};

// w: row-major [rows, cols]; hessian: [cols, cols] = 2/n·XᵀX (taken by value: it is modified).
// pruned: optional [rows, cols] mask of a sparse weight (1 = pruned): those weights get their
// group's zero point (exactly 0) whatever the updates made of them, and the error of forcing
// them to 0 is pushed onto later columns like any rounding error (SparseGPT's joint
// sparsify-and-quantize), so the sparsity pattern survives quantization.
GptqResult gptqQuantize(const float* w, int64_t rows, int64_t cols, std::vector<double> hessian,
                        const QuantScheme& scheme, const GptqOptions& options, const uint8_t* pruned = nullptr);

}  // namespace slmc
