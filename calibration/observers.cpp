#include "calibration/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lib/model/quant_scheme.h"
#include "lib/model/quantized_tensor.h"
#include "lib/support/error.h"

namespace slmc {

ObserverKind parseObserverKind(const std::string& name) {
  if (name == "minmax") return ObserverKind::MinMax;
  if (name == "percentile") return ObserverKind::Percentile;
  if (name == "mse") return ObserverKind::Mse;
  if (name == "kl") return ObserverKind::Kl;
  throw Error("unknown observer '" + name + "' (choose minmax, percentile, mse or kl)");
}

const char* observerKindName(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::MinMax: return "minmax";
    case ObserverKind::Percentile: return "percentile";
    case ObserverKind::Mse: return "mse";
    case ObserverKind::Kl: return "kl";
  }
  return "?";
}

void validateObserverOptions(const ObserverOptions& o, int bits) {
  validateBits(bits);
  require(o.percentile >= 50 && o.percentile <= 100,
          "observer percentile " + std::to_string(o.percentile) + " is out of range (use a value in [50, 100])");
  require(o.mse_steps >= 1, "observer mse_steps must be at least 1 (got " + std::to_string(o.mse_steps) + ")");
  require(o.mse_max_shrink >= 0 && o.mse_max_shrink < 1,
          "observer mse_max_shrink " + std::to_string(o.mse_max_shrink) + " is out of range (use a value in [0, 1))");
  const int64_t levels = int64_t{1} << (bits - 1);
  require(o.kind != ObserverKind::Kl || o.bins >= levels,
          "KL observer: " + std::to_string(o.bins) + " histogram bins are fewer than the " + std::to_string(levels) +
              " levels of a " + std::to_string(bits) + "-bit grid (use bins >= " + std::to_string(levels) + ")");
}

namespace {

ValueRange minMax(const float* v, int64_t n) {
  const auto [lo, hi] = std::minmax_element(v, v + n);
  return {*lo, *hi};
}

// The p-th percentile of values (reordered in place): linear interpolation at position
// p/100·(n-1) of the sorted order.
float percentileOf(std::vector<float>& values, double p) {
  const int64_t n = static_cast<int64_t>(values.size());
  const double pos = p / 100.0 * static_cast<double>(n - 1);
  const int64_t k = std::min<int64_t>(static_cast<int64_t>(std::floor(pos)), n - 1);
  const double frac = pos - static_cast<double>(k);
  std::nth_element(values.begin(), values.begin() + k, values.end());
  const float a = values[static_cast<size_t>(k)];
  if (k + 1 >= n || frac == 0) return a;
  // After nth_element everything past k is >= a: the next order statistic is their minimum.
  const float b = *std::min_element(values.begin() + k + 1, values.end());
  return static_cast<float>(a + frac * (static_cast<double>(b) - a));
}

ValueRange percentileRange(const float* v, int64_t n, bool symmetric, double p) {
  std::vector<float> values(v, v + n);
  if (symmetric) {
    for (float& x : values) x = std::fabs(x);
    const float t = percentileOf(values, p);
    return {-t, t};
  }
  const float lo = percentileOf(values, 100.0 - p);
  const float hi = percentileOf(values, p);
  return {lo, hi};
}

// Σ (x - dequant(quant(x)))² on the grid that `range` implies.
double gridError(const float* v, int64_t n, ValueRange range, int bits, bool symmetric) {
  const GroupGrid g = gridForRange(range.lo, range.hi, bits, symmetric);
  double err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(v[i]) - dequantizeValue(quantizeValue(v[i], g, bits), g);
    err += d * d;
  }
  return err;
}

ValueRange mseRange(const float* v, int64_t n, int bits, bool symmetric, const ObserverOptions& o) {
  const ValueRange full = minMax(v, n);
  ValueRange best = full;
  double best_err = gridError(v, n, full, bits, symmetric);
  for (int64_t k = 1; k < o.mse_steps; ++k) {
    const float f = static_cast<float>(1.0 - o.mse_max_shrink * static_cast<double>(k) / (o.mse_steps - 1));
    const ValueRange r{full.lo * f, full.hi * f};
    const double err = gridError(v, n, r, bits, symmetric);
    if (err < best_err) {
      best_err = err;
      best = r;
    }
  }
  return best;
}

// KL(P‖Q) of two unnormalized distributions over the same bins; +inf when Q is 0 where P is not.
double klDivergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    sp += p[i];
    sq += q[i];
  }
  if (sp <= 0 || sq <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    if (q[i] <= 0) return std::numeric_limits<double>::infinity();
    const double pi = p[i] / sp, qi = q[i] / sq;
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

ValueRange klRange(const float* v, int64_t n, int bits, bool symmetric, const ObserverOptions& o) {
  const ValueRange full = minMax(v, n);
  const float amax = std::max(-full.lo, full.hi);
  if (!(amax > 0)) return full;
  const int64_t nbins = o.bins, levels = int64_t{1} << (bits - 1);
  std::vector<double> hist(static_cast<size_t>(nbins), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double x = std::fabs(static_cast<double>(v[i])) / amax * static_cast<double>(nbins);
    hist[static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(x), nbins - 1))] += 1;
  }

  int64_t best_i = nbins;
  double best_kl = std::numeric_limits<double>::infinity();
  std::vector<double> p, q;
  double outliers = 0;
  for (int64_t b = levels; b < nbins; ++b) outliers += hist[static_cast<size_t>(b)];
  for (int64_t i = levels; i <= nbins; ++i) {
    // Reference P: the first i bins, the clipped outliers folded into the last one.
    p.assign(hist.begin(), hist.begin() + i);
    p[static_cast<size_t>(i - 1)] += outliers;
    // Candidate Q: hist[0:i] merged into `levels` equal spans of bins (level j takes
    // [⌊j·i/levels⌋, ⌊(j+1)·i/levels⌋)), each level's mass spread evenly over its bins where P is non-zero.
    q.assign(static_cast<size_t>(i), 0.0);
    for (int64_t b = 0, j = 0; j < levels; ++j) {
      const int64_t start = b, stop = (j + 1) * i / levels;
      double mass = 0;
      int64_t nonzero = 0;
      for (b = start; b < stop; ++b) {
        mass += hist[static_cast<size_t>(b)];
        nonzero += p[static_cast<size_t>(b)] != 0;
      }
      if (nonzero == 0) continue;
      for (int64_t c = start; c < stop; ++c)
        if (p[static_cast<size_t>(c)] != 0) q[static_cast<size_t>(c)] = mass / static_cast<double>(nonzero);
    }
    const double kl = klDivergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
    if (i < nbins) outliers -= hist[static_cast<size_t>(i)];
  }
  const float t = static_cast<float>(static_cast<double>(best_i) / static_cast<double>(nbins) * amax);
  if (symmetric) return {-t, t};
  return {std::max(full.lo, -t), std::min(full.hi, t)};
}

}  // namespace

ValueRange observeRange(const float* v, int64_t n, int bits, bool symmetric, const ObserverOptions& options) {
  validateObserverOptions(options, bits);
  if (n <= 0) return {};
  switch (options.kind) {
    case ObserverKind::MinMax: return minMax(v, n);
    case ObserverKind::Percentile: return percentileRange(v, n, symmetric, options.percentile);
    case ObserverKind::Mse: return mseRange(v, n, bits, symmetric, options);
    case ObserverKind::Kl: return klRange(v, n, bits, symmetric, options);
  }
  return minMax(v, n);
}

std::vector<ValueRange> observeRanges(const float* m, int64_t rows, int64_t cols, Granularity granularity,
                                      int64_t group_size, int bits, bool symmetric, const ObserverOptions& options) {
  require(rows > 0 && cols > 0, "observer: empty matrix [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  switch (granularity) {
    case Granularity::PerTensor: return {observeRange(m, rows * cols, bits, symmetric, options)};
    case Granularity::PerChannel: group_size = cols; break;
    case Granularity::PerGroup:
      require(group_size > 0 && cols % group_size == 0, "observer: group size " + std::to_string(group_size) +
                                                            " does not divide a row of " + std::to_string(cols) +
                                                            " columns (use a divisor of " + std::to_string(cols) + ")");
      break;
  }
  const int64_t groups = cols / group_size;
  std::vector<ValueRange> ranges(static_cast<size_t>(rows * groups));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g)
      ranges[static_cast<size_t>(r * groups + g)] =
          observeRange(m + r * cols + g * group_size, group_size, bits, symmetric, options);
  return ranges;
}

}  // namespace slmc
