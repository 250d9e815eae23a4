// AWQ (passes/quantize/awq.h) on a synthetic layer whose input has a few salient channels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lib/model/quantized_tensor.h"
#include "lib/support/error.h"
#include "passes/quantize/awq.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

struct Site {
  int64_t cols = 128, tokens = 512;
  std::vector<float> x;           // [tokens, cols]
  std::vector<float> x_abs_mean;  // [cols]
  std::vector<double> hessian;    // XᵀX/n
  std::vector<std::vector<float>> weights;
  std::vector<int64_t> rows;
};

// Gaussian activations with channels 3, 40 and 77 twenty times larger, read by two linears.
Site salientSite(uint32_t seed) {
  Site s;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  s.x.resize(static_cast<size_t>(s.tokens * s.cols));
  for (int64_t t = 0; t < s.tokens; ++t)
    for (int64_t c = 0; c < s.cols; ++c)
      s.x[t * s.cols + c] = normal(rng) * ((c == 3 || c == 40 || c == 77) ? 20.0f : 1.0f);
  s.x_abs_mean.assign(static_cast<size_t>(s.cols), 0.0f);
  s.hessian.assign(static_cast<size_t>(s.cols * s.cols), 0.0);
  for (int64_t t = 0; t < s.tokens; ++t)
    for (int64_t i = 0; i < s.cols; ++i) {
      s.x_abs_mean[i] += std::fabs(s.x[t * s.cols + i]) / s.tokens;
      for (int64_t j = 0; j < s.cols; ++j)
        s.hessian[i * s.cols + j] += static_cast<double>(s.x[t * s.cols + i]) * s.x[t * s.cols + j] / s.tokens;
    }
  for (int64_t rows : {48, 24}) {
    std::vector<float> w(static_cast<size_t>(rows * s.cols));
    for (auto& v : w) v = 0.05f * normal(rng);
    s.weights.push_back(std::move(w));
    s.rows.push_back(rows);
  }
  return s;
}

std::vector<AwqLinearRef> refs(const Site& s) {
  std::vector<AwqLinearRef> r;
  for (size_t i = 0; i < s.weights.size(); ++i) r.push_back({s.weights[i].data(), s.rows[i]});
  return r;
}

// Σ_r e_r H e_rᵀ over columns [c0, c1) of row r only (c0 = 0, c1 = cols: the whole row).
double rowError(const std::vector<float>& w, const std::vector<float>& w_hat, int64_t r, int64_t cols, int64_t c0,
                int64_t c1, const std::vector<double>& h) {
  double e = 0;
  for (int64_t i = c0; i < c1; ++i)
    for (int64_t j = c0; j < c1; ++j)
      e += (static_cast<double>(w_hat[r * cols + i]) - w[r * cols + i]) * h[i * cols + j] *
           (static_cast<double>(w_hat[r * cols + j]) - w[r * cols + j]);
  return e;
}

std::vector<float> dequantized(const QuantizedTensor& q) {
  const Tensor t = q.dequantize();
  return std::vector<float>(t.floats(), t.floats() + t.numel());
}

}  // namespace

TEST_CASE("awq: scaling salient channels lowers the output error") {
  const Site s = salientSite(1);
  for (const QuantScheme& scheme : {QuantScheme{4, 32, true}, QuantScheme{3, 64, false}, QuantScheme{4, 0, false}}) {
    CAPTURE(schemeName(scheme));
    const AwqScaleResult r = awqSearchScales(refs(s), s.cols, s.x_abs_mean, s.hessian, scheme);
    CHECK(r.alpha > 0);
    CHECK(r.loss_after < r.loss_before);
    REQUIRE(r.scales.size() == static_cast<size_t>(s.cols));
    // The salient channels get the largest scales.
    CHECK(r.scales[3] > r.scales[4]);
    CHECK(r.scales[40] > r.scales[41]);

    // α = 0 is plain RTN: the same loss measured independently.
    double rtn = 0;
    for (size_t i = 0; i < s.weights.size(); ++i) {
      const std::vector<float> w_hat = dequantized(quantizeRtn(s.weights[i].data(), s.rows[i], s.cols, scheme));
      for (int64_t row = 0; row < s.rows[i]; ++row)
        rtn += rowError(s.weights[i], w_hat, row, s.cols, 0, s.cols, s.hessian);
    }
    CHECK(r.loss_before == doctest::Approx(rtn).epsilon(1e-4));
  }
}

TEST_CASE("awq: scales normalize to a geometric mean of max and min equal to 1") {
  const Site s = salientSite(2);
  const AwqScaleResult r = awqSearchScales(refs(s), s.cols, s.x_abs_mean, s.hessian, QuantScheme{4, 32, true});
  const auto [lo, hi] = std::minmax_element(r.scales.begin(), r.scales.end());
  CHECK(*lo * *hi == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("awq: clipping never increases a group's output error") {
  const Site s = salientSite(3);
  const std::vector<float>& w = s.weights[0];
  const int64_t rows = s.rows[0], cols = s.cols;
  for (const QuantScheme& scheme : {QuantScheme{4, 32, true}, QuantScheme{3, 32, false}, QuantScheme{4, 0, true}}) {
    CAPTURE(schemeName(scheme));
    const QuantizedTensor clipped =
        quantizeOnGrids(w.data(), rows, cols, scheme, awqClipGrids(w.data(), rows, cols, s.hessian, scheme));
    clipped.validate("w");
    const QuantizedTensor plain = quantizeRtn(w.data(), rows, cols, scheme);
    const std::vector<float> a = dequantized(clipped), b = dequantized(plain);
    const int64_t gs = scheme.group_size > 0 ? scheme.group_size : cols;
    int64_t worse = 0, better = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += gs) {
        const double ea = rowError(w, a, r, cols, c0, c0 + gs, s.hessian);
        const double eb = rowError(w, b, r, cols, c0, c0 + gs, s.hessian);
        worse += ea > eb * (1 + 1e-5);
        better += ea < eb * (1 - 1e-5);
      }
    CHECK(worse == 0);
    CHECK(better > 0);
  }
}

TEST_CASE("awq: awqQuantize without clipping is RTN, with it, a valid tensor") {
  const Site s = salientSite(4);
  const QuantScheme scheme{4, 32, false};
  AwqOptions no_clip;
  no_clip.clip = false;
  const QuantizedTensor a = awqQuantize(s.weights[1].data(), s.rows[1], s.cols, s.hessian, scheme, no_clip);
  const QuantizedTensor b = quantizeRtn(s.weights[1].data(), s.rows[1], s.cols, scheme);
  CHECK(a.codes == b.codes);
  CHECK(a.scales == b.scales);
  awqQuantize(s.weights[1].data(), s.rows[1], s.cols, s.hessian, scheme, AwqOptions{}).validate("w");
}

TEST_CASE("awq: scaleHessian is the Hessian of the input divided by s") {
  const std::vector<double> h = {4, 2, 2, 9};
  const std::vector<double> hs = scaleHessian(h, {2.0f, 0.5f});
  CHECK(hs == std::vector<double>{1, 2, 2, 36});
}

TEST_CASE("awq: mismatched statistics are rejected") {
  const Site s = salientSite(5);
  checkError(errorOf([&] {
               awqSearchScales(refs(s), s.cols, std::vector<float>(3, 1.0f), s.hessian, QuantScheme{4, 32, true});
             }),
             "AWQ: 3 activation means for 128 input channels");
  checkError(errorOf([&] {
               awqSearchScales({}, s.cols, s.x_abs_mean, s.hessian, QuantScheme{4, 32, true});
             }),
             "AWQ: no linear layers read this input");
}
