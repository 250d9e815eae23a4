// Wanda (Sun et al., 2023, "A Simple and Effective Pruning Approach for Large Language Models"):
// prune by weight magnitude times the norm of the input the weight multiplies,
//   S_ij = |W_ij| · ‖X_j‖₂,   ‖X_j‖₂ = sqrt(Σ_t x_tj²) over the calibration tokens,
// compared within each output row (unstructured) or within each group of m (N:M). No weight
// update and no Hessian inverse: one pass over the weight after the statistics are collected.
//
// Why it works: the output error of zeroing W_ij alone is |W_ij|²·‖X_j‖² (the diagonal of the
// layer's Hessian, i.e. OBS without the off-diagonal terms and without reconstruction), so a
// small weight on an outlier channel can matter more than a large weight on a quiet one —
// LLMs have a few input channels with activations 100x the others, which magnitude pruning
// ignores. Per-row comparison is the paper's choice (its ablation: per-row beats per-tensor for
// LLMs, as every output keeps the same share of its inputs); MaskScope::Tensor is kept for such
// comparisons.
//
// Precision: the norms come from the float XᵀX diagonal; scores are float products. Any positive
// scale of the norms (mean instead of sum over tokens) selects the same mask.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/reference/activation_stats.h"
#include "passes/prune/sparsity_target.h"

namespace slmc {

// ‖X_j‖₂ per input channel j: sqrt of the diagonal of the site's Σ x xᵀ. Throws Error when the
// site has no tokens or its XᵀX has the wrong size.
std::vector<float> inputNorms(const SiteStats& stats);

// The Wanda mask of a row-major [rows, cols] weight; norms: ‖X_j‖₂ for the cols inputs
// (inputNorms). Throws Error on a bad target, a norm count other than cols, a negative or
// non-finite norm, or a non-finite weight.
std::vector<uint8_t> wandaMask(const float* w, int64_t rows, int64_t cols, const std::vector<float>& norms,
                               const SparsityTarget& target, MaskScope scope = MaskScope::Row);

}  // namespace slmc
