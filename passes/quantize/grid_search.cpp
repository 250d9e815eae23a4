#include "passes/quantize/grid_search.h"

#include <algorithm>
#include <cmath>

#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

constexpr float kMinScale = 6.103515625e-05f;  // the smallest normal float16 (as gridForRange)
constexpr float kMaxScale = 65504.0f;          // the largest float16

// The float16 value nearest to `scale`, sign kept, magnitude inside the normal float16 range.
float storableScale(float scale) {
  const float magnitude = std::clamp(halfToFloat(floatToHalf(std::fabs(scale))), kMinScale, kMaxScale);
  return scale < 0 ? -magnitude : magnitude;
}

inline float importanceAt(const float* importance, int64_t i) { return importance ? importance[i] : 1.0f; }

// Keeps the candidate with the least error; the incumbent wins ties.
struct Best {
  GroupGrid grid;
  double error;
  void offer(const GroupGrid& g, double e) {
    if (e < error) grid = g, error = e;
  }
};

// Symmetric: the weighted least-squares scale Σ w·x·l / Σ w·l² of g's codes (l = q − zero).
bool refinedSymmetric(const float* x, const float* importance, int64_t n, GroupGrid g, int bits, GroupGrid& out) {
  double sum_xl = 0, sum_l2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double l = static_cast<double>(quantizeValue(x[i], g, bits)) - g.zero;
    const double w = importanceAt(importance, i);
    sum_xl += w * x[i] * l;
    sum_l2 += w * l * l;
  }
  if (!(sum_l2 > 0) || sum_xl == 0) return false;
  out = GroupGrid{storableScale(static_cast<float>(sum_xl / sum_l2)), g.zero};
  return true;
}

// Asymmetric: the weighted least-squares (scale, offset) with x ≈ scale·q + offset over g's
// codes q, the offset kept ≤ 0 (so zero = −offset/scale is a code ≥ 0), then rounded to a code.
bool refinedAsymmetric(const float* x, const float* importance, int64_t n, GroupGrid g, int bits, GroupGrid& out) {
  double sw = 0, sx = 0, sl = 0, sl2 = 0, sxl = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double l = quantizeValue(x[i], g, bits);
    const double w = importanceAt(importance, i);
    sw += w, sx += w * x[i], sl += w * l, sl2 += w * l * l, sxl += w * x[i] * l;
  }
  const double det = sw * sl2 - sl * sl;
  if (!(det > 0)) return false;
  double scale = (sw * sxl - sx * sl) / det;
  double offset = (sl2 * sx - sl * sxl) / det;
  if (offset > 0) {  // 0 must stay on the grid: refit the scale alone with offset 0
    offset = 0;
    scale = sxl / sl2;
  }
  if (!(scale > 0)) return false;
  const float s = storableScale(static_cast<float>(scale));
  const float maxq = static_cast<float>(maxCode(bits));
  out = GroupGrid{s, static_cast<uint8_t>(std::clamp(std::nearbyint(static_cast<float>(-offset) / s), 0.0f, maxq))};
  return true;
}

}  // namespace

double weightedGridError(const float* x, const float* importance, int64_t n, GroupGrid grid, int bits) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(dequantizeValue(quantizeValue(x[i], grid, bits), grid)) - x[i];
    e += importanceAt(importance, i) * d * d;
  }
  return e;
}

GroupGrid searchGroupGrid(const float* x, const float* importance, int64_t n, int bits, bool symmetric) {
  const auto [lo_it, hi_it] = std::minmax_element(x, x + n);
  const float lo = std::min(*lo_it, 0.0f), hi = std::max(*hi_it, 0.0f);
  const GroupGrid plain = gridForRange(lo, hi, bits, symmetric);
  if (hi - lo == 0) return plain;  // all zeros: nothing to search
  Best best{plain, weightedGridError(x, importance, n, plain, bits)};
  const auto tryGrid = [&](const GroupGrid& g) {
    best.offer(g, weightedGridError(x, importance, n, g, bits));
    GroupGrid refined;
    const bool ok = symmetric ? refinedSymmetric(x, importance, n, g, bits, refined)
                              : refinedAsymmetric(x, importance, n, g, bits, refined);
    if (ok) best.offer(refined, weightedGridError(x, importance, n, refined, bits));
  };
  if (symmetric) {
    const float extreme = -lo >= hi ? lo : hi;
    const float half = static_cast<float>(1 << (bits - 1));
    const uint8_t zero = static_cast<uint8_t>(1 << (bits - 1));
    for (int k = -9; k <= 9; ++k)
      tryGrid(GroupGrid{storableScale(extreme / -(half + 0.1f * static_cast<float>(k))), zero});
  } else {
    const float maxq = static_cast<float>(maxCode(bits));
    for (int k = -10; k <= 10; ++k) {
      const float scale = storableScale((hi - lo) / (maxq + 0.1f * static_cast<float>(k)));
      const uint8_t zero = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, maxq));
      tryGrid(GroupGrid{scale, zero});
    }
  }
  return best.grid;
}

std::vector<GroupGrid> searchedGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                     const float* column_importance) {
  validateBits(scheme.bits());
  require(rows > 0 && cols > 0, "scale search: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  std::vector<GroupGrid> grids(static_cast<size_t>(rows * groups));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g)
      grids[static_cast<size_t>(r * groups + g)] =
          searchGroupGrid(w + r * cols + g * gs, column_importance ? column_importance + g * gs : nullptr, gs,
                          scheme.bits(), scheme.symmetric);
  return grids;
}

}  // namespace slmc
