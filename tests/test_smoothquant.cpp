// SmoothQuant scales (passes/quantize/smoothquant.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lib/support/error.h"
#include "passes/quantize/smoothquant.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("smoothquant: hand-computed scales") {
  // Column maxima of |W| over both linears: 1, 4, 2, 0.
  const std::vector<float> w1 = {1,     -4, 0, 0,  //
                                 -0.5f, 2,  2, 0};
  const std::vector<float> w2 = {0.25f, 1, -1, 0};
  const std::vector<float> act = {4, 1, 0, 9};
  const std::vector<LinearRef> ws = {{w1.data(), 2}, {w2.data(), 1}};
  const std::vector<float> s = smoothQuantScales(act, ws, 4, 0.5);
  CHECK(s[0] == doctest::Approx(2.0));  // sqrt(4) / sqrt(1)
  CHECK(s[1] == doctest::Approx(0.5));  // sqrt(1) / sqrt(4)
  CHECK(s[2] == 1.0f);                  // activations all zero
  CHECK(s[3] == 1.0f);                  // weights all zero
  const std::vector<float> all_act = smoothQuantScales(act, ws, 4, 1.0);
  CHECK(all_act[0] == doctest::Approx(4.0));
  CHECK(all_act[1] == doctest::Approx(1.0));
  const std::vector<float> all_w = smoothQuantScales(act, ws, 4, 0.0);
  CHECK(all_w[1] == doctest::Approx(0.25));
  // Tiny ratios are clamped.
  const std::vector<float> tiny = smoothQuantScales({1e-12f}, {{w2.data(), 1}}, 1, 1.0);
  CHECK(tiny[0] == doctest::Approx(1e-5));
}

TEST_CASE("smoothquant: the smoothed product equals the original") {
  const int64_t tokens = 16, cols = 32, rows = 8;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(tokens * cols)), w(static_cast<size_t>(rows * cols)),
      act(static_cast<size_t>(cols), 0.0f);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < cols; ++c) {
      float& v = x[t * cols + c];
      v = normal(rng) * (c % 7 == 0 ? 30.0f : 1.0f);
      act[c] = std::max(act[c], std::fabs(v));
    }
  for (auto& v : w) v = normal(rng);
  const std::vector<float> s = smoothQuantScales(act, {{w.data(), rows}}, cols, 0.5);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double ref = 0, smooth = 0, magnitude = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ref += static_cast<double>(x[t * cols + c]) * w[r * cols + c];
        magnitude += std::fabs(static_cast<double>(x[t * cols + c]) * w[r * cols + c]);
        smooth += static_cast<double>(x[t * cols + c] / s[c]) * (w[r * cols + c] * s[c]);
      }
      CHECK(std::fabs(smooth - ref) <= 1e-6 * magnitude);  // float rounding of x/s and w·s only
    }
  // After smoothing, the activation and weight maxima of a channel meet at sqrt(max|X|·max|W|).
  float wmax0 = 0;
  for (int64_t r = 0; r < rows; ++r) wmax0 = std::max(wmax0, std::fabs(w[r * cols]));
  CHECK(act[0] / s[0] == doctest::Approx(wmax0 * s[0]).epsilon(1e-5));
}

TEST_CASE("smoothquant: bad inputs are rejected") {
  const std::vector<float> w = {1, 2};
  checkError(errorOf([&] { smoothQuantScales({1, 1}, {{w.data(), 1}}, 2, 1.5); }), "SmoothQuant: alpha");
  checkError(errorOf([&] {
               smoothQuantScales({1}, {{w.data(), 1}}, 2, 0.5);
             }),
             "SmoothQuant: 1 activation maxima for 2 input channels");
}
