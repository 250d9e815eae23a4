// SmoothQuant (Xiao et al., 2022): migrate the quantization difficulty of activations (a few
// channels with huge magnitudes) into the weights with a per-input-channel scale
//   s_j = max|X_j|^α / max_{linears, rows i} |W_ij|^(1-α),
// so that X·diag(1/s) and W·diag(s) are both easy to quantize to int8 while
// (X·diag(1/s))·(W·diag(s))ᵀ = X·Wᵀ. α = 0.5 is the paper's default; larger α moves more of
// the difficulty onto the weights. The caller folds 1/s into the operation producing X (the
// preceding norm's weight and bias) and multiplies the columns of every linear reading X by s.
#pragma once

#include <cstdint>
#include <vector>

#include "passes/quantize/second_order.h"

namespace slmc {

// act_abs_max: [cols] max |x| per input channel; weights: every linear reading the input,
// row-major [rows, cols]. s_j is clamped to ≥ 1e-5; a channel whose activations or weights are
// all zero gets s_j = 1 (nothing to migrate).
std::vector<float> smoothQuantScales(const std::vector<float>& act_abs_max, const std::vector<LinearRef>& weights,
                                     int64_t cols, double alpha);

}  // namespace slmc
