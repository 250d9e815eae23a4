// GPTQ (passes/quantize/gptq.h) on synthetic layers: it beats RTN on correlated inputs, equals
// RTN when the inputs are uncorrelated, handles dead inputs and reports a Hessian it cannot use.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "lib/model/quantized_tensor.h"
#include "lib/support/error.h"
#include "passes/quantize/gptq.h"
#include "tests/synthetic_layer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

std::vector<float> dequantized(const QuantizedTensor& q) {
  const Tensor t = q.dequantize();
  return std::vector<float>(t.floats(), t.floats() + t.numel());
}

}  // namespace

TEST_CASE("gptq: lower output error than RTN on correlated inputs") {
  const Layer l = correlatedLayer(1);
  for (int bits : {4, 3})
    for (int64_t group : {32, 0})
      for (bool act_order : {false, true})
        for (bool symmetric : {true, false}) {
          const QuantScheme scheme{bits, group, symmetric};
          GptqOptions o;
          o.act_order = act_order;
          o.scale_search = false;  // the plain grid, as quantizeRtn's below
          CAPTURE(schemeName(scheme));
          CAPTURE(act_order);
          const GptqResult r = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, scheme, o);
          r.q.validate("w");
          CHECK(r.q.scheme == scheme);
          CHECK(r.damp_used == 0.01);
          CHECK(r.error < 0.8 * r.rtn_error);
          // The reported error is the output error over the calibration tokens.
          CHECK(r.error == doctest::Approx(outputError(l, dequantized(r.q))).epsilon(1e-3));
          const QuantizedTensor rtn = quantizeRtn(l.w.data(), l.rows, l.cols, scheme);
          CHECK(r.rtn_error == doctest::Approx(outputError(l, dequantized(rtn))).epsilon(1e-3));
        }
}

TEST_CASE("gptq: the block size only changes the order of float operations") {
  const Layer l = correlatedLayer(2);
  for (int64_t group : {16, 0}) {
    const QuantScheme scheme{4, group, true};
    GptqOptions big, small;
    small.block_size = 8;  // widened to 16 for group 16: groups are fit after every earlier update
    const GptqResult a = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, scheme, big);
    const GptqResult b = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, scheme, small);
    CHECK(b.error == doctest::Approx(a.error).epsilon(1e-2));
  }
}

TEST_CASE("gptq: with an identity Hessian (uncorrelated inputs) it is exactly RTN") {
  const Layer l = correlatedLayer(3);
  std::vector<double> identity(static_cast<size_t>(l.cols * l.cols), 0.0);
  for (int64_t i = 0; i < l.cols; ++i) identity[i * l.cols + i] = 1.0;
  for (int bits : {3, 4})
    for (int64_t group : {32, 0})
      for (bool act_order : {false, true}) {
        const QuantScheme scheme{bits, group, false};
        GptqOptions o;
        o.act_order = act_order;
        o.scale_search = false;  // the plain grid, as quantizeRtn's below
        o.block_size = 16;
        const GptqResult r = gptqQuantize(l.w.data(), l.rows, l.cols, identity, scheme, o);
        const QuantizedTensor rtn = quantizeRtn(l.w.data(), l.rows, l.cols, scheme);
        CHECK(r.q.codes == rtn.codes);
        CHECK(r.q.scales == rtn.scales);
        CHECK(r.q.zeros == rtn.zeros);
        CHECK(r.error == r.rtn_error);
      }
}

TEST_CASE("gptq: a dead input gets a zero weight column") {
  const int64_t dead = 5;
  const Layer l = correlatedLayer(4, false, dead);
  CHECK(l.hessian[dead * l.cols + dead] == 0.0);
  for (bool act_order : {false, true})
    for (bool symmetric : {true, false}) {
      GptqOptions o;
      o.act_order = act_order;
      const GptqResult r = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, QuantScheme{4, 32, symmetric}, o);
      r.q.validate("w");
      const std::vector<float> w_hat = dequantized(r.q);
      for (int64_t row = 0; row < l.rows; ++row) CHECK(w_hat[row * l.cols + dead] == 0.0f);
      CHECK(r.error < r.rtn_error);
    }
}

TEST_CASE("gptq: other observers fit the group grids") {
  const Layer l = correlatedLayer(6);
  GptqOptions o;
  o.observer.kind = ObserverKind::Mse;
  o.observer.mse_steps = 20;
  const GptqResult r = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, QuantScheme{3, 32, false}, o);
  r.q.validate("w");
  CHECK(r.error < r.rtn_error);
}

TEST_CASE("gptq: bad inputs are rejected with one clear line") {
  const Layer l = correlatedLayer(5);
  std::vector<double> negative(static_cast<size_t>(l.cols * l.cols), 0.0);
  for (int64_t i = 0; i < l.cols; ++i) negative[i * l.cols + i] = -1.0;
  checkError(errorOf([&] {
               gptqQuantize(l.w.data(), l.rows, l.cols, negative, QuantScheme{4, 32, true}, GptqOptions{});
             }),
             "GPTQ: Hessian is not positive definite even with damping 10 (too few calibration tokens for 64 inputs?)");
  checkError(errorOf([&] {
               gptqQuantize(l.w.data(), l.rows, l.cols, std::vector<double>(10, 1.0), QuantScheme{4, 32, true}, {});
             }),
             "GPTQ: the Hessian has 10 entries for 64 inputs");
  checkError(errorOf([&] {
               gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, QuantScheme{4, 48, true}, {});
             }),
             "group size 48 does not divide a row of 64 columns");
  checkError(errorOf([&] {
               gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, QuantScheme{7, 32, true}, {});
             }),
             "unsupported bit width 7");
}
