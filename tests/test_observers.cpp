// Observers (calibration/observers.h): the range each one picks, on hand-computed and on
// synthetic data, and the shapes of per-tensor/channel/group ranges.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "calibration/observers.h"
#include "lib/model/quantized_tensor.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

ObserverOptions kindOf(ObserverKind kind) {
  ObserverOptions o;
  o.kind = kind;
  return o;
}

// Σ (x - dequant(quant(x)))² on the grid of `r`.
double squaredError(const std::vector<float>& v, ValueRange r, int bits, bool symmetric) {
  const GroupGrid g = gridForRange(r.lo, r.hi, bits, symmetric);
  double e = 0;
  for (float x : v) {
    const double d = x - dequantizeValue(quantizeValue(x, g, bits), g);
    e += d * d;
  }
  return e;
}

}  // namespace

TEST_CASE("observer: names parse, and an unknown one lists the choices") {
  CHECK(parseObserverKind("minmax") == ObserverKind::MinMax);
  CHECK(parseObserverKind("percentile") == ObserverKind::Percentile);
  CHECK(parseObserverKind("mse") == ObserverKind::Mse);
  CHECK(parseObserverKind("kl") == ObserverKind::Kl);
  checkError(errorOf([] { parseObserverKind("entropy"); }), "choose minmax, percentile, mse or kl");
  ObserverOptions bad;
  bad.percentile = 120;
  const float v[] = {1, 2};
  checkError(errorOf([&] { observeRange(v, 2, 8, true, bad); }), "percentile");
  ObserverOptions few = kindOf(ObserverKind::Kl);
  few.bins = 64;
  checkError(errorOf([&] { observeRange(v, 2, 8, true, few); }), "use bins >= 128");
}

TEST_CASE("observer: min-max is the smallest and largest value") {
  const std::vector<float> v = {0.5f, -1.0f, 3.0f, 2.0f};
  const ValueRange r = observeRange(v.data(), 4, 4, true, ObserverOptions{});
  CHECK(r.lo == -1.0f);
  CHECK(r.hi == 3.0f);
  const ValueRange empty = observeRange(v.data(), 0, 4, true, ObserverOptions{});
  CHECK(empty.lo == 0.0f);
  CHECK(empty.hi == 0.0f);
}

TEST_CASE("observer: percentiles interpolate between order statistics") {
  ObserverOptions o = kindOf(ObserverKind::Percentile);
  // 0, 1, ..., 100 shuffled: the p-th percentile is p.
  std::vector<float> v(101);
  for (int i = 0; i <= 100; ++i) v[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 101);
  o.percentile = 90;
  ValueRange r = observeRange(v.data(), 101, 8, false, o);
  CHECK(r.lo == doctest::Approx(10.0));
  CHECK(r.hi == doctest::Approx(90.0));
  o.percentile = 99.5;  // position 99.5: halfway between 99 and 100
  r = observeRange(v.data(), 101, 8, false, o);
  CHECK(r.hi == doctest::Approx(99.5));
  CHECK(r.lo == doctest::Approx(0.5));

  // Symmetric: the percentile of |x|. |x| sorted = 1, 2, 3, 4; position 0.5·3 = 1.5 → 2.5.
  const std::vector<float> s = {-4.0f, -2.0f, 1.0f, 3.0f};
  o.percentile = 50;
  r = observeRange(s.data(), 4, 8, true, o);
  CHECK(r.lo == doctest::Approx(-2.5));
  CHECK(r.hi == doctest::Approx(2.5));
  o.percentile = 100;
  r = observeRange(s.data(), 4, 8, true, o);
  CHECK(r.hi == 4.0f);
  CHECK(r.lo == -4.0f);
}

TEST_CASE("observer: MSE shrinks the range around one outlier and never loses to min-max") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(2000);
  for (auto& x : v) x = uniform(rng);
  v[100] = 20.0f;
  for (bool symmetric : {true, false})
    for (int bits : {3, 4, 8}) {
      CAPTURE(symmetric);
      CAPTURE(bits);
      const ValueRange mm = observeRange(v.data(), static_cast<int64_t>(v.size()), bits, symmetric, ObserverOptions{});
      const ValueRange mse =
          observeRange(v.data(), static_cast<int64_t>(v.size()), bits, symmetric, kindOf(ObserverKind::Mse));
      CHECK(squaredError(v, mse, bits, symmetric) <= squaredError(v, mm, bits, symmetric));
      if (bits < 8) CHECK(mse.hi < 20.0f);
    }
  // Uniform data without outliers: MSE stays close to the full range.
  std::vector<float> u(v);
  u[100] = 0.5f;
  const ValueRange r = observeRange(u.data(), static_cast<int64_t>(u.size()), 8, true, kindOf(ObserverKind::Mse));
  CHECK(r.hi > 0.9f);
}

TEST_CASE("observer: KL on a Gaussian clips the tail, above one sigma") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(100000);
  for (auto& x : v) x = normal(rng);
  float amax = 0, lo = 0, hi = 0;
  for (float x : v) {
    amax = std::max(amax, std::fabs(x));
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const ValueRange r = observeRange(v.data(), static_cast<int64_t>(v.size()), 8, true, kindOf(ObserverKind::Kl));
  CHECK(r.hi == -r.lo);
  CHECK(r.hi < amax);
  CHECK(r.hi > 1.0f);
  const ValueRange a = observeRange(v.data(), static_cast<int64_t>(v.size()), 8, false, kindOf(ObserverKind::Kl));
  CHECK(a.hi == std::min(hi, r.hi));
  CHECK(a.lo == std::max(lo, r.lo));
  // Coarser grids clip harder.
  const ValueRange r4 = observeRange(v.data(), static_cast<int64_t>(v.size()), 4, true, kindOf(ObserverKind::Kl));
  CHECK(r4.hi <= r.hi);
  CHECK(r4.hi > 1.0f);
}

TEST_CASE("observer: per-tensor, per-channel and per-group shapes") {
  const int64_t rows = 3, cols = 8;
  std::vector<float> m(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(i);
  const ObserverOptions o;
  const auto t = observeRanges(m.data(), rows, cols, Granularity::PerTensor, 0, 4, false, o);
  REQUIRE(t.size() == 1);
  CHECK(t[0].lo == 0.0f);
  CHECK(t[0].hi == 23.0f);
  const auto c = observeRanges(m.data(), rows, cols, Granularity::PerChannel, 0, 4, false, o);
  REQUIRE(c.size() == 3);
  CHECK(c[1].lo == 8.0f);
  CHECK(c[1].hi == 15.0f);
  const auto g = observeRanges(m.data(), rows, cols, Granularity::PerGroup, 4, 4, false, o);
  REQUIRE(g.size() == 6);
  CHECK(g[3].lo == 12.0f);  // row 1, group 1
  CHECK(g[3].hi == 15.0f);
  checkError(errorOf([&] { observeRanges(m.data(), rows, cols, Granularity::PerGroup, 3, 4, false, o); }),
             "group size 3 does not divide a row of 8 columns");
}
