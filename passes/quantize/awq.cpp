#include "passes/quantize/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lib/support/error.h"

namespace slmc {

namespace {

void validateAwq(const QuantScheme& scheme, const AwqOptions& o) {
  validateBits(scheme.bits());
  require(o.grid >= 1, "AWQ: grid must be at least 1 (got " + std::to_string(o.grid) + ")");
  require(o.clip_grid >= 1, "AWQ: clip_grid must be at least 1 (got " + std::to_string(o.clip_grid) + ")");
  require(o.max_shrink >= 0 && o.max_shrink < 1,
          "AWQ: max_shrink " + std::to_string(o.max_shrink) + " is out of range (use a value in [0, 1))");
}

// The min-max RTN of `w` (row-major [rows, cols]) dequantized: exactly quantizeRtn's values.
RowMatrixF fakeQuantRtn(const RowMatrixF& w, const QuantScheme& scheme) {
  const int64_t rows = w.rows(), cols = w.cols();
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  RowMatrixF out(rows, cols);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float* p = w.data() + r * cols + g * gs;
      float* o = out.data() + r * cols + g * gs;
      const auto [lo, hi] = std::minmax_element(p, p + gs);
      const GroupGrid grid = gridForRange(*lo, *hi, scheme.bits(), scheme.symmetric);
      for (int64_t c = 0; c < gs; ++c) o[c] = dequantizeValue(quantizeValue(p[c], grid, scheme.bits()), grid);
    }
  return out;
}

// s = mean|x|^α clamped ≥ 1e-4, normalized by sqrt(max(s)·min(s)).
std::vector<float> awqScales(const std::vector<float>& x_abs_mean, double alpha) {
  std::vector<float> s(x_abs_mean.size());
  for (size_t j = 0; j < s.size(); ++j)
    s[j] = std::max(static_cast<float>(std::pow(static_cast<double>(x_abs_mean[j]), alpha)), 1e-4f);
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  const float norm = std::sqrt(*hi * *lo);
  for (float& v : s) v /= norm;
  return s;
}

}  // namespace

AwqScaleResult awqSearchScales(const std::vector<AwqLinearRef>& linears, int64_t cols,
                               const std::vector<float>& x_abs_mean, const std::vector<double>& hessian,
                               const QuantScheme& scheme, const AwqOptions& options) {
  validateAwq(scheme, options);
  require(!linears.empty(), "AWQ: no linear layers read this input");
  for (const AwqLinearRef& l : linears) require(l.w != nullptr && l.rows > 0, "AWQ: a linear weight is empty");
  require(cols > 0 && static_cast<int64_t>(x_abs_mean.size()) == cols,
          "AWQ: " + std::to_string(x_abs_mean.size()) + " activation means for " + std::to_string(cols) +
              " input channels (the statistics do not match the layer)");
  require(std::all_of(x_abs_mean.begin(), x_abs_mean.end(), [](float v) { return std::isfinite(v) && v >= 0; }),
          "AWQ: an activation mean is negative or not finite (check the calibration statistics)");
  const Eigen::MatrixXf h = hessianMatrix(hessian, cols, "AWQ").cast<float>();

  AwqScaleResult best;
  best.loss_after = std::numeric_limits<double>::infinity();
  for (int64_t a = 0; a < options.grid; ++a) {
    const double alpha = static_cast<double>(a) / static_cast<double>(options.grid);
    const std::vector<float> s = awqScales(x_abs_mean, alpha);
    const Eigen::Map<const Eigen::RowVectorXf> s_row(s.data(), cols);
    double loss = 0;
    for (const AwqLinearRef& l : linears) {
      const Eigen::Map<const RowMatrixF> w(l.w, l.rows, cols);
      const RowMatrixF w_scaled = w.array().rowwise() * s_row.array();
      const RowMatrixF e = fakeQuantRtn(w_scaled, scheme).array().rowwise() / s_row.array() - w.array();
      loss += hessianError(e, h);
    }
    if (a == 0) best.loss_before = loss;
    if (loss < best.loss_after) {
      best.loss_after = loss;
      best.alpha = alpha;
      best.scales = s;
    }
  }
  return best;
}

std::vector<GroupGrid> awqClipGrids(const float* w, int64_t rows, int64_t cols, const std::vector<double>& hessian,
                                    const QuantScheme& scheme, const AwqOptions& options) {
  validateAwq(scheme, options);
  require(w != nullptr && rows > 0 && cols > 0,
          "AWQ: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  const Eigen::MatrixXf h = hessianMatrix(hessian, cols, "AWQ").cast<float>();

  // All candidate ratios of a group are scored with one product: their errors are stacked
  // ([candidate][row], gs), in batches of at most ~32 MiB.
  const int64_t candidates = options.clip_grid + 1;
  const int64_t batch = std::clamp<int64_t>((int64_t{8} << 20) / (rows * gs), 1, candidates);
  std::vector<GroupGrid> grids(static_cast<size_t>(rows * groups));
  std::vector<GroupGrid> candidate(static_cast<size_t>(batch * rows));
  RowMatrixF e(batch * rows, gs);
  std::vector<double> best_err(static_cast<size_t>(rows));
  for (int64_t g = 0; g < groups; ++g) {
    const Eigen::MatrixXf h_gg = h.block(g * gs, g * gs, gs, gs);
    std::fill(best_err.begin(), best_err.end(), std::numeric_limits<double>::infinity());
    for (int64_t k0 = 0; k0 < candidates; k0 += batch) {
      const int64_t n = std::min(batch, candidates - k0) * rows;
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < n; ++t) {
        const int64_t k = k0 + t / rows, r = t % rows;
        const float ratio = static_cast<float>(1.0 - options.max_shrink * static_cast<double>(k) /
                                                         static_cast<double>(options.clip_grid));
        const float* p = w + r * cols + g * gs;
        const auto [lo_it, hi_it] = std::minmax_element(p, p + gs);
        // Symmetric grids keep the sign of the shrunk extreme (gridForRange's signed extreme).
        const float lo = *lo_it * ratio, hi = *hi_it * ratio;
        const GroupGrid grid = gridForRange(lo, hi, scheme.bits(), scheme.symmetric);
        candidate[static_cast<size_t>(t)] = grid;
        float* et = e.data() + t * gs;
        for (int64_t c = 0; c < gs; ++c) et[c] = dequantizeValue(quantizeValue(p[c], grid, scheme.bits()), grid) - p[c];
      }
      const Eigen::VectorXd err = hessianErrorRows(e.topRows(n), h_gg);
      // In increasing k: the least error wins, the larger ratio on ties (ratio 1 first).
      for (int64_t t = 0; t < n; ++t) {
        const size_t r = static_cast<size_t>(t % rows);
        if (err(t) < best_err[r]) {
          best_err[r] = err(t);
          grids[r * static_cast<size_t>(groups) + static_cast<size_t>(g)] = candidate[static_cast<size_t>(t)];
        }
      }
    }
  }
  return grids;
}

QuantizedTensor awqQuantize(const float* w_scaled, int64_t rows, int64_t cols,
                            const std::vector<double>& hessian_scaled, const QuantScheme& scheme,
                            const AwqOptions& options) {
  validateAwq(scheme, options);
  if (!options.clip) return quantizeRtn(w_scaled, rows, cols, scheme);
  return quantizeOnGrids(w_scaled, rows, cols, scheme,
                         awqClipGrids(w_scaled, rows, cols, hessian_scaled, scheme, options));
}

std::vector<double> scaleHessian(const std::vector<double>& hessian, const std::vector<float>& scales) {
  const int64_t cols = static_cast<int64_t>(scales.size());
  require(
      static_cast<int64_t>(hessian.size()) == cols * cols,
      "AWQ: the Hessian has " + std::to_string(hessian.size()) + " entries for " + std::to_string(cols) + " scales");
  std::vector<double> out(hessian.size());
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[static_cast<size_t>(i * cols + j)] =
          hessian[static_cast<size_t>(i * cols + j)] /
          (static_cast<double>(scales[static_cast<size_t>(i)]) * scales[static_cast<size_t>(j)]);
  return out;
}

}  // namespace slmc
