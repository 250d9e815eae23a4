#include "lib/model/quantized_tensor.h"

#include <algorithm>
#include <cmath>

#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc {

namespace {
// The smallest float16 >= x (x > 0), as a float: scales are stored as F16, and a scale rounded
// down would leave a group's extreme values more than half a step outside the grid.
float roundUpToHalf(float x) {
  uint16_t h = floatToHalf(x);
  if (halfToFloat(h) < x) ++h;  // positive halves are ordered like their bit patterns
  return halfToFloat(h);
}
}  // namespace

GroupGrid gridForRange(float lo, float hi, int bits, bool symmetric) {
  const float maxq = static_cast<float>(maxCode(bits));
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  GroupGrid g;
  if (symmetric) {
    // The signed extreme lands on code 0; the other side gets one level less (the top level is
    // (2^(bits-1) - 1) steps), which costs less than leaving a level unused.
    const float extreme = -lo >= hi ? lo : hi;
    g.scale = extreme / -static_cast<float>(1 << (bits - 1));
    g.zero = static_cast<uint8_t>(1 << (bits - 1));
  } else {
    g.scale = (hi - lo) / maxq;
  }
  // An all-zero group still needs a nonzero scale; the smallest normal float16 keeps it storable.
  constexpr float kMinScale = 6.103515625e-05f;
  const float magnitude = std::max(roundUpToHalf(std::fabs(g.scale)), kMinScale);
  g.scale = g.scale < 0 ? -magnitude : magnitude;
  if (!symmetric) g.zero = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / g.scale), 0.0f, maxq));
  return g;
}

GroupGrid QuantizedTensor::grid(int64_t row, int64_t group) const {
  const size_t i = static_cast<size_t>(row * groups() + group);
  return GroupGrid{scales[i], zeros[i]};
}

Tensor QuantizedTensor::dequantize() const {
  std::vector<float> values(static_cast<size_t>(rows * cols));
  const int64_t gs = scheme.group_size > 0 ? scheme.group_size : cols;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      values[i] = dequantizeValue(codes[i], grid(r, c / gs));
    }
  return Tensor::fromFloats({rows, cols}, std::move(values));
}

void QuantizedTensor::validate(const std::string& name) const {
  const std::string where = "quantized tensor '" + name + "'";
  validateBits(scheme.bits());
  require(rows > 0 && cols > 0, where + " has an empty shape");
  require(scheme.group_size >= 0 && (scheme.group_size == 0 || cols % scheme.group_size == 0),
          where + ": group size " + std::to_string(scheme.group_size) + " does not divide its " + std::to_string(cols) +
              " columns");
  const size_t n = static_cast<size_t>(rows * cols), ng = static_cast<size_t>(rows * groups());
  require(codes.size() == n, where + " has " + std::to_string(codes.size()) + " codes for " + std::to_string(n) +
                                 " weights (corrupt checkpoint?)");
  require(scales.size() == ng && zeros.size() == ng,
          where + " has " + std::to_string(scales.size()) + " scales and " + std::to_string(zeros.size()) +
              " zeros for " + std::to_string(ng) + " groups (corrupt checkpoint?)");
  const uint8_t maxq = static_cast<uint8_t>(maxCode(scheme.bits()));
  require(std::all_of(codes.begin(), codes.end(), [&](uint8_t q) { return q <= maxq; }),
          where + " has codes above " + std::to_string(maxq));
  require(std::all_of(zeros.begin(), zeros.end(), [&](uint8_t z) { return z <= maxq; }),
          where + " has zero points above " + std::to_string(maxq));
  // Negative scales are legal (a symmetric group whose extreme is positive); zero is not.
  require(std::all_of(scales.begin(), scales.end(), [](float s) { return std::isfinite(s) && s != 0; }),
          where + " has a scale that is zero or not finite (corrupt checkpoint?)");
}

QuantizedTensor quantizeOnGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                const std::vector<GroupGrid>& grids) {
  QuantizedTensor q;
  q.scheme = scheme;
  q.rows = rows;
  q.cols = cols;
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  require(static_cast<int64_t>(grids.size()) == rows * groups, "internal: grid count does not match the groups");
  q.codes.resize(static_cast<size_t>(rows * cols));
  q.scales.resize(grids.size());
  q.zeros.resize(grids.size());
  for (size_t i = 0; i < grids.size(); ++i) {
    q.scales[i] = grids[i].scale;
    q.zeros[i] = grids[i].zero;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q.codes[static_cast<size_t>(r * cols + c)] =
          quantizeValue(w[r * cols + c], grids[static_cast<size_t>(r * groups + c / gs)], scheme.bits());
  return q;
}

QuantizedTensor quantizeRtn(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme) {
  validateBits(scheme.bits());
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  std::vector<GroupGrid> grids(static_cast<size_t>(rows * groups));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float* p = w + r * cols + g * gs;
      const auto [lo, hi] = std::minmax_element(p, p + gs);
      grids[static_cast<size_t>(r * groups + g)] = gridForRange(*lo, *hi, scheme.bits(), scheme.symmetric);
    }
  return quantizeOnGrids(w, rows, cols, scheme, grids);
}

}  // namespace slmc
