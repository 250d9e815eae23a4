// Round-to-nearest quantization (lib/model/quantized_tensor.h, passes/quantize/rtn.h): the error bound
// of the grid, float16 scales, degenerate groups and the observer-driven variant.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lib/model/dtype.h"
#include "lib/model/quantized_tensor.h"
#include "passes/quantize/rtn.h"

using namespace slmc;

namespace {

std::vector<float> randomWeights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& v : w) v = normal(rng);
  return w;
}

}  // namespace

TEST_CASE("rtn: every weight lies within half a step of its grid value (symmetric: one step past the top level)") {
  const int64_t rows = 6, cols = 256;
  std::vector<float> w = randomWeights(rows * cols, 1);
  w[3] = 0.5f;  // an outlier in row 0's first group
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (bool symmetric : {true, false})
      for (int64_t group : {32, 64, 128, 0}) {
        const QuantScheme scheme{bits, group, symmetric};
        CAPTURE(schemeName(scheme));
        const QuantizedTensor q = quantizeRtn(w.data(), rows, cols, scheme);
        q.validate("w");
        CHECK(q.groups() == (group > 0 ? cols / group : 1));
        const Tensor deq = q.dequantize();
        const int64_t gs = group > 0 ? group : cols;
        int64_t outside = 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const float step = std::fabs(q.grid(r, c / gs).scale);
            const float err = std::fabs(deq.floats()[r * cols + c] - w[static_cast<size_t>(r * cols + c)]);
            // Half a step: scales are rounded *up* to float16, so the grid still covers the
            // group's extremes (the slack is float32 arithmetic only). A symmetric grid's top
            // level is one step short of the extreme's mirror image: values beyond it are
            // within one step.
            const float bound = symmetric ? 1.0f : 0.5f;
            outside += err > step * (bound + 1e-5f) + 1e-7f;
          }
        CHECK(outside == 0);
      }
}

TEST_CASE("rtn: scales are float16 values and zeros fit the bit width") {
  const int64_t rows = 4, cols = 128;
  const std::vector<float> w = randomWeights(rows * cols, 2);
  for (bool symmetric : {true, false}) {
    const QuantizedTensor q = quantizeRtn(w.data(), rows, cols, QuantScheme{4, 32, symmetric});
    for (float s : q.scales) CHECK(halfToFloat(floatToHalf(s)) == s);
    for (uint8_t z : q.zeros) CHECK(z <= 15);
    if (symmetric)
      for (uint8_t z : q.zeros) CHECK(z == 8);
  }
}

TEST_CASE("rtn: an all-zero group gets a positive scale and dequantizes to zeros") {
  const int64_t rows = 2, cols = 64;
  std::vector<float> w = randomWeights(rows * cols, 3);
  for (int64_t c = 32; c < 64; ++c) w[static_cast<size_t>(cols + c)] = 0.0f;  // row 1, group 1
  for (bool symmetric : {true, false}) {
    const QuantizedTensor q = quantizeRtn(w.data(), rows, cols, QuantScheme{4, 32, symmetric});
    q.validate("w");
    CHECK(q.grid(1, 1).scale > 0);
    const Tensor deq = q.dequantize();
    for (int64_t c = 32; c < 64; ++c) CHECK(deq.floats()[cols + c] == 0.0f);
  }
}

TEST_CASE("rtn: quantizeRtnObserved with min-max equals quantizeRtn") {
  const int64_t rows = 8, cols = 192;
  const std::vector<float> w = randomWeights(rows * cols, 4);
  for (int bits : {3, 4, 8})
    for (bool symmetric : {true, false})
      for (int64_t group : {64, 0}) {
        const QuantScheme scheme{bits, group, symmetric};
        const QuantizedTensor a = quantizeRtn(w.data(), rows, cols, scheme);
        const QuantizedTensor b = quantizeRtnObserved(w.data(), rows, cols, scheme, ObserverOptions{});
        CHECK(a.codes == b.codes);
        CHECK(a.scales == b.scales);
        CHECK(a.zeros == b.zeros);
        CHECK(a.scheme == b.scheme);
      }
}

TEST_CASE("rtn: observers other than min-max give valid tensors") {
  const int64_t rows = 4, cols = 128;
  const std::vector<float> w = randomWeights(rows * cols, 5);
  for (ObserverKind kind : {ObserverKind::Percentile, ObserverKind::Mse, ObserverKind::Kl}) {
    ObserverOptions o;
    o.kind = kind;
    o.bins = 64;
    quantizeRtnObserved(w.data(), rows, cols, QuantScheme{4, 64, false}, o).validate("w");
  }
}
