#include "passes/quantize/grid_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

constexpr float kMinScale = 6.103515625e-05f;  // the smallest normal float16 (as gridForRange)
constexpr float kMaxScale = 65504.0f;          // the largest float16

// The float16 value nearest to `scale`, sign kept, magnitude inside the normal float16 range:
// halfToFloat(floatToHalf(·)) clamped, inlined (the search rounds ~40 scales per group). In the
// normal range a float16 is a float with 10 mantissa bits, so rounding the low 13 bits to
// nearest-even is the conversion; below it the clamp wins, and NaN stays NaN.
inline float storableScale(float scale) {
  float magnitude = std::fabs(scale);
  if (magnitude >= kMaxScale) {
    magnitude = kMaxScale;
  } else if (magnitude < kMinScale) {
    magnitude = kMinScale;
  } else if (magnitude == magnitude) {
    uint32_t bits;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits = (bits + 0xfffu + ((bits >> 13) & 1u)) & ~0x1fffu;
    std::memcpy(&magnitude, &bits, sizeof bits);
    magnitude = std::min(magnitude, kMaxScale);  // 65504 < x < 65520 rounds up to 65536
  }
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

// The search scores ~40 candidate grids per group, so one pass over the group is the unit of
// its cost: a pass computes a candidate's codes once and, from them, both its weighted error and
// the sums of its least-squares refit. Eight float lanes (GCC/Clang vector extensions: AVX2 in
// the avx2 clone of searchGroupGrid, two SSE halves otherwise) hold partial sums, totalled in
// float and widened to float64 for the refits. The codes are exactly quantizeValue's: the lanes
// round and clamp the same float expressions (bench/bench_grid_search: 85 -> 17 ns per weight).
using Lanes = float __attribute__((vector_size(32)));
using LaneInts = int32_t __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;

// Σ w·(x̂ − x)² and, with l = q − center, Σ w, Σ w·x, Σ w·l, Σ w·l², Σ w·x·l over one pass.
struct PassSums {
  double error = 0, w = 0, x = 0, l = 0, l2 = 0, xl = 0;
};

// The lanes' total, halved in float (a pass sums at most a group's few dozen products per lane).
__attribute__((always_inline)) inline double laneSum(Lanes v) {
  const float a = (v[0] + v[4]) + (v[2] + v[6]), b = (v[1] + v[5]) + (v[3] + v[7]);
  return static_cast<double>(a + b);
}

template <bool kWeighted, bool kRefit>
__attribute__((always_inline)) inline PassSums gridPass(const float* x, const float* importance, int64_t n,
                                                        GroupGrid g, int bits, float center) {
  const float maxq = static_cast<float>(maxCode(bits)), zero = static_cast<float>(g.zero);
  const Lanes scale_v = Lanes{} + g.scale, zero_v = Lanes{} + zero, maxq_v = Lanes{} + maxq, zeros = Lanes{};
  const Lanes half_v = Lanes{} + 0.5f, center_v = Lanes{} + center, ones = Lanes{} + 1.0f;
  Lanes err{}, sw{}, sx{}, sl{}, sl2{}, sxl{};
  const int64_t blocked = n - n % kLanes;
  for (int64_t i = 0; i < blocked; i += kLanes) {
    Lanes xv, wv = ones;
    std::memcpy(&xv, x + i, sizeof xv);
    if (kWeighted) std::memcpy(&wv, importance + i, sizeof wv);
    Lanes q = xv / scale_v + zero_v;
    q = q > zeros ? q : zeros;  // NaN lands on 0, as in quantizeValue
    q = q < maxq_v ? q : maxq_v;
    const Lanes code = __builtin_convertvector(__builtin_convertvector(q + half_v, LaneInts), Lanes);
    const Lanes d = (code - zero_v) * scale_v - xv;
    err += wv * d * d;
    if (kRefit) {
      const Lanes l = code - center_v;
      sw += wv, sx += wv * xv, sl += wv * l, sl2 += wv * l * l, sxl += wv * xv * l;
    }
  }
  PassSums s{laneSum(err), laneSum(sw), laneSum(sx), laneSum(sl), laneSum(sl2), laneSum(sxl)};
  for (int64_t i = blocked; i < n; ++i) {
    const float code = quantizeValue(x[i], g, bits), w = importanceAt(importance, i);
    const float d = (code - zero) * g.scale - x[i];
    s.error += w * d * d;
    if (kRefit) {
      const float l = code - center;
      s.w += w, s.x += w * x[i], s.l += w * l, s.l2 += w * l * l, s.xl += w * x[i] * l;
    }
  }
  return s;
}

// Symmetric: the weighted least-squares scale Σ w·x·l / Σ w·l² of the codes (l = q − zero).
bool refinedSymmetric(const PassSums& s, GroupGrid g, GroupGrid& out) {
  if (!(s.l2 > 0) || s.xl == 0) return false;
  out = GroupGrid{storableScale(static_cast<float>(s.xl / s.l2)), g.zero};
  return true;
}

// Asymmetric: the weighted least-squares (scale, offset) with x ≈ scale·q + offset over the
// codes q (l = q), the offset kept ≤ 0 (so zero = −offset/scale is a code ≥ 0), then rounded to
// a code.
bool refinedAsymmetric(const PassSums& s, int bits, GroupGrid& out) {
  const double det = s.w * s.l2 - s.l * s.l;
  if (!(det > 0)) return false;
  double scale = (s.w * s.xl - s.x * s.l) / det;
  double offset = (s.l2 * s.x - s.l * s.xl) / det;
  if (offset > 0) {  // 0 must stay on the grid: refit the scale alone with offset 0
    offset = 0;
    scale = s.xl / s.l2;
  }
  if (!(scale > 0)) return false;
  const float sc = storableScale(static_cast<float>(scale));
  const float maxq = static_cast<float>(maxCode(bits));
  out = GroupGrid{sc, static_cast<uint8_t>(std::clamp(std::nearbyint(static_cast<float>(-offset) / sc), 0.0f, maxq))};
  return true;
}

template <bool kWeighted>
__attribute__((always_inline)) inline GroupGrid searchGroupGridOf(const float* x, const float* importance, int64_t n,
                                                                  int bits, bool symmetric) {
  const auto [lo_it, hi_it] = std::minmax_element(x, x + n);
  const float lo = std::min(*lo_it, 0.0f), hi = std::max(*hi_it, 0.0f);
  const GroupGrid plain = gridForRange(lo, hi, bits, symmetric);
  if (hi - lo == 0) return plain;  // all zeros: nothing to search
  // The candidates (as the header lists), then each scored and refined in one loop; a plain
  // loop rather than a lambda so that it is compiled inside searchGroupGrid's avx2 clone.
  GroupGrid candidates[21];
  int count = 0;
  if (symmetric) {
    const float extreme = -lo >= hi ? lo : hi;
    const float half = static_cast<float>(1 << (bits - 1));
    const uint8_t zero = static_cast<uint8_t>(1 << (bits - 1));
    for (int k = -9; k <= 9; ++k)
      candidates[count++] = GroupGrid{storableScale(extreme / -(half + 0.1f * static_cast<float>(k))), zero};
  } else {
    const float maxq = static_cast<float>(maxCode(bits));
    for (int k = -10; k <= 10; ++k) {
      const float scale = storableScale((hi - lo) / (maxq + 0.1f * static_cast<float>(k)));
      const uint8_t zero = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, maxq));
      candidates[count++] = GroupGrid{scale, zero};
    }
  }
  // Symmetric refits measure codes from the zero (l = q − zero), asymmetric ones from 0.
  const auto center = [symmetric](const GroupGrid& g) { return symmetric ? static_cast<float>(g.zero) : 0.0f; };
  Best best{plain, gridPass<kWeighted, false>(x, importance, n, plain, bits, center(plain)).error};
  // Neighbouring candidates often round to the same codes, so refine to the same grid: that one
  // is scored once (scoring it again could change nothing).
  GroupGrid last_refined{0.0f, 0};
  const auto same = [](const GroupGrid& a, const GroupGrid& b) { return a.scale == b.scale && a.zero == b.zero; };
  for (int c = 0; c < count; ++c) {
    const GroupGrid g = candidates[c];
    const PassSums s = gridPass<kWeighted, true>(x, importance, n, g, bits, center(g));
    best.offer(g, s.error);
    GroupGrid refined;
    const bool ok = symmetric ? refinedSymmetric(s, g, refined) : refinedAsymmetric(s, bits, refined);
    if (ok && !same(refined, g) && !same(refined, last_refined)) {
      best.offer(refined, gridPass<kWeighted, false>(x, importance, n, refined, bits, center(refined)).error);
      last_refined = refined;
    }
  }
  return best.grid;
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

__attribute__((target_clones("avx2", "default"))) GroupGrid searchGroupGrid(const float* x, const float* importance,
                                                                             int64_t n, int bits, bool symmetric) {
  return importance ? searchGroupGridOf<true>(x, importance, n, bits, symmetric)
                    : searchGroupGridOf<false>(x, nullptr, n, bits, symmetric);
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
