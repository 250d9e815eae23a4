// AWQ (Lin et al., 2023): activation-aware weight quantization. Input channels that carry large
// activations matter most to the output; scaling their weights up by s before quantization
// (and their inputs down by 1/s) makes their relative rounding error smaller. Two searches, both
// scored by the layer's output error rather than the weight error:
//
//   scales  s = mean|x|^α (clamped ≥ 1e-4), normalized s /= sqrt(max(s)·min(s)), for
//           α ∈ {0, 1/grid, …, (grid-1)/grid}; the loss of α is
//           Σ over the linears that read the input of tr(E H Eᵀ), E = Q(W·diag(s))·diag(1/s) - W,
//           Q the scheme's min-max RTN. α = 0 (s = 1) is plain RTN, so the search never loses.
//   clip    per row and group, the range of the (already scaled) weights shrunk by
//           r = 1 - max_shrink·k/clip_grid, k = 0..clip_grid (down to 1 - max_shrink):
//           [r·min w, r·max w] (symmetric: the plain grid of its signed extreme); the r with the least
//           group output error e_g H_gg e_gᵀ wins (H_gg the group's diagonal block: the group's
//           share of the output, as llm-awq's auto_clip measures it). r = 1 wins ties, so clipping
//           never increases a group's error.
//
// Through the Hessian, tr(E H Eᵀ) is the squared output error summed over the calibration tokens
// (H = XᵀX) or 2/n of it (SiteStats::hessian(), 2/n·XᵀX): any positive multiple chooses the same
// scales and grids; the reported losses are in the caller's units.
//
// Applying the scales is the caller's job: every linear reading the input stores W·diag(s), and
// 1/s is folded into the operation producing the input (the preceding RMSNorm/LayerNorm weight
// and bias, or v_proj's rows for o_proj, or up_proj's rows for down_proj), so the float model's
// output is unchanged before quantization. The scaled layer's Hessian is diag(1/s)·H·diag(1/s).
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/quantized_tensor.h"
#include "passes/quantize/second_order.h"

namespace slmc {

struct AwqOptions {
  int64_t grid = 20;        // α values tried for the scales
  bool clip = true;         // search a clipping ratio per group
  int64_t clip_grid = 20;   // clipping ratios tried after r = 1
  double max_shrink = 0.5;  // the smallest ratio is 1 - max_shrink
};

// A linear reading the shared input: row-major [rows, cols].
using AwqLinearRef = LinearRef;

struct AwqScaleResult {
  std::vector<float> scales;  // [cols]: multiply weight columns by s, divide the input by s
  double alpha = 0;
  double loss_before = 0;  // α = 0, s = 1: plain RTN
  double loss_after = 0;   // the chosen α
};

// x_abs_mean: [cols] mean |x| per input channel; hessian: [cols, cols] XᵀX/n or 2/n·XᵀX.
AwqScaleResult awqSearchScales(const std::vector<AwqLinearRef>& linears, int64_t cols,
                               const std::vector<float>& x_abs_mean, const std::vector<double>& hessian,
                               const QuantScheme& scheme, const AwqOptions& options = {});

// The grids (row-major [rows, groups]) the clip search picks for a row-major [rows, cols] weight.
std::vector<GroupGrid> awqClipGrids(const float* w, int64_t rows, int64_t cols, const std::vector<double>& hessian,
                                    const QuantScheme& scheme, const AwqOptions& options = {});

// Quantizes the scaled weight W·diag(s) with the Hessian of the scaled input
// diag(1/s)·H·diag(1/s): awqClipGrids (or min-max grids when options.clip is false), then RTN.
QuantizedTensor awqQuantize(const float* w_scaled, int64_t rows, int64_t cols,
                            const std::vector<double>& hessian_scaled, const QuantScheme& scheme,
                            const AwqOptions& options = {});

// diag(1/s)·H·diag(1/s): the Hessian of the input once it is divided by s.
std::vector<double> scaleHessian(const std::vector<double>& hessian, const std::vector<float>& scales);

}  // namespace slmc
