// SparseGPT (Frantar & Alistarh, 2023, "SparseGPT: Massive Language Models Can Be Accurately
// Pruned in One-Shot"): prune a linear weight column by column and push each pruned weight's
// error onto the columns not yet visited through the inverse Hessian of the layer's
// reconstruction loss ‖W X - Ŵ X‖², exactly as GPTQ (passes/quantize/gptq.h) does with rounding
// errors: "quantizing" a weight to 0 is pruning it. The kept weights are thereby updated to
// reconstruct the layer's output, which is why it beats the mask-only methods (magnitude, Wanda).
//
// The Hessian is the one SiteStats::hessian() gives: H = 2/n·XᵀX [cols, cols]. Any positive
// multiple gives the same result (damping is relative to mean(diag H)); only the reported error
// scales with it.
//
// Algorithm (the paper's Algorithm 1 with the reference code's details):
//   1. dead inputs (H_ii == 0): H_ii = 1 and the weight column set to 0 (it never reaches the
//      output). Its zeros score 0 below, so they are the first weights the mask takes;
//   2. λ = damp·mean(diag H) added to the diagonal; U = upper Cholesky factor of H⁻¹
//      (upperCholeskyOfInverse). When H is not positive definite the damping is retried ×10 up
//      to three times, then Error;
//   3. columns are walked in blocks of block_size. The mask is chosen adaptively, on the
//      current (already updated) weights, from the OBS saliency w²/U_jj² (the output error of
//      pruning w and reconstructing the later columns optimally; ranked here as |w|/U_jj, the same
//      order without squaring):
//        unstructured: at the start of each block, the round(fraction·rows·B) lowest scores of
//          the whole [rows, B] block (the reference compares over the flattened block too);
//        N:M: at every m-th column, per row, the m - n lowest scores of the next m columns (the
//          block is widened to a multiple of m so a group never straddles a lazy update);
//   4. inside a block each column j is visited: a pruned weight becomes exactly 0, its scaled
//      error err = w/U_jj is subtracted from the block's later columns (err·U_j,j+1:); a kept
//      weight keeps its updated value (zero error). After the block all later columns receive
//      the block's errors in one matrix product (the lazy batch update W[:, end:] -= Err·U).
//
// Achieved sparsity: N:M is exact. Unstructured sparsity is exact per block, so the tensor's
// zeros are Σ_blocks round(fraction·rows·count): exactly fraction·rows·cols when rows·B·fraction
// is an integer (e.g. 50% with an even number of rows), otherwise within half a weight per block.
// Unlike magnitude's Tensor scope, one block cannot borrow another's budget: the reference's
// choice, which keeps the mask decision next to the updates it depends on.
//
// Precision: as GPTQ: H, its factorization and inverse are float64; weights, scores, per-column
// updates and the lazy batch product are float32 (the pruning errors being propagated dwarf
// float32 rounding, and float32 doubles the speed of the dominant rows·cols² product).
#pragma once

#include <cstdint>
#include <vector>

#include "passes/prune/sparsity_target.h"

namespace slmc {

struct SparseGptOptions {
  double damp = 0.01;        // λ = damp·mean(diag H)
  int64_t block_size = 128;  // columns per mask decision (unstructured) and lazy batch update
};

struct SparseGptResult {
  std::vector<float> weight;  // row-major [rows, cols], pruned weights exactly 0.0f
  std::vector<uint8_t> mask;  // rows·cols, 1 = pruned
  double error = 0;           // Σ_r e_r H e_rᵀ with e = Ŵ - W and the caller's H (= 2/n·‖(Ŵ - W) Xᵀ‖²_F)
  double damp_used = 0;       // the damping fraction that factorized (damp, or ×10, ×100, ×1000)
};

// w: row-major [rows, cols]; hessian: [cols, cols] = 2/n·XᵀX (taken by value: it is modified).
// Throws Error on a bad target or options, a Hessian of the wrong size or with NaN, a non-finite
// weight, or a Hessian that stays indefinite after damping.
SparseGptResult sparsegptPrune(const float* w, int64_t rows, int64_t cols, std::vector<double> hessian,
                               const SparsityTarget& target, const SparseGptOptions& options);

}  // namespace slmc
