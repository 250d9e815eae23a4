// Observers: choose the value range [lo, hi] a quantization grid covers, from the values it will
// hold (weights of a group, or sampled activations). The range then goes through
// gridForRange (lib/model/quantized_tensor.h), which widens it to contain 0 and rounds the scale to
// float16, so every observer's objective is measured on exactly the grid that is stored.
//
//   MinMax      [min, max].
//   Percentile  symmetric: t = the p-th percentile of |x|, range [-t, t];
//               asymmetric: [(100-p)-th percentile of x, p-th percentile of x].
//               Percentiles interpolate linearly between order statistics (numpy's default):
//               position p/100·(n-1) in the sorted values.
//   Mse         the min-max range shrunk by f, for mse_steps values of f evenly spaced from 1
//               down to 1 - mse_max_shrink; the f whose grid gives the least
//               Σ (x - dequant(quant(x)))² wins (f = 1 on ties, so never worse than MinMax).
//   Kl          TensorRT's entropy calibration: a histogram of |x| with `bins` bins over
//               [0, max|x|]; for each threshold of i bins (2^(bits-1) ≤ i ≤ bins) the reference
//               P = hist[0:i] with the outliers hist[i:] added to bin i-1, the candidate Q =
//               hist[0:i] merged into L = 2^(bits-1) levels of equal width (level j takes
//               bins [⌊j·i/L⌋, ⌊(j+1)·i/L⌋), as NVIDIA's pytorch-quantization splits them)
//               and spread back evenly over each level's bins where P is non-zero; the i with
//               the least KL(P‖Q) (the first on ties) gives t = i·bin width.
//               Symmetric: [-t, t]; asymmetric: [max(min, -t), min(max, t)].
//               Costs O(n + bins²): meant for per-tensor activation ranges over many samples,
//               not for small weight groups (a sparse histogram favours the full range).
// LibTorch- and Eigen-free: plain loops, safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

enum class ObserverKind { MinMax, Percentile, Mse, Kl };

// "minmax", "percentile", "mse", "kl"; throws Error listing the choices otherwise.
ObserverKind parseObserverKind(const std::string& name);
const char* observerKindName(ObserverKind kind);

struct ObserverOptions {
  ObserverKind kind = ObserverKind::MinMax;
  double percentile = 99.99;    // Percentile: in (50, 100]
  int64_t bins = 2048;          // Kl: histogram bins, at least 2^(bits-1)
  int64_t mse_steps = 100;      // Mse: shrink factors tried, at least 1
  double mse_max_shrink = 0.8;  // Mse: the smallest factor is 1 - mse_max_shrink; in [0, 1)
};

// Throws Error naming the option and its valid range.
void validateObserverOptions(const ObserverOptions& options, int bits);

struct ValueRange {
  float lo = 0, hi = 0;
};

// The range of v[0..n) for a `bits`-bit grid (n == 0 gives [0, 0]).
ValueRange observeRange(const float* v, int64_t n, int bits, bool symmetric, const ObserverOptions& options);

enum class Granularity { PerTensor, PerChannel, PerGroup };

// Ranges of a row-major [rows, cols] matrix: PerTensor one; PerChannel one per row; PerGroup
// rows·cols/group_size, row-major (row 0's groups first), group_size dividing cols.
std::vector<ValueRange> observeRanges(const float* m, int64_t rows, int64_t cols, Granularity granularity,
                                      int64_t group_size, int bits, bool symmetric, const ObserverOptions& options);

}  // namespace slmc
