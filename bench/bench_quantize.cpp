// Quantizer figures (printed, never asserted): seconds and output-error ratios of RTN, GPTQ
// (with and without act_order) and AWQ (scale search, then clipping) on synthetic layers
// [out, in] = 768x288, 288x768 and 2048x2048. The inputs are correlated (X = Z·A, A random)
// with a few salient channels, 4096 tokens; errors are tr(E H Eᵀ) with H = 2/n·XᵀX, i.e. the
// layer's squared output error, and each method's is shown relative to RTN's.
//
//   bench_quantize [--threads N]
#include <Eigen/Dense>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench_cli.h"
#include "lib/model/quantized_tensor.h"
#include "passes/quantize/awq.h"
#include "passes/quantize/gptq.h"
#include "passes/quantize/second_order.h"

using namespace slmc;

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w;           // [rows, cols]
  std::vector<float> x_abs_mean;  // [cols]
  std::vector<double> hessian;    // 2/n·XᵀX
};

Layer syntheticLayer(int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf z(tokens, cols), a(cols, cols);
  for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = normal(rng) / std::sqrt(static_cast<float>(cols));
  a.diagonal().array() += 1.0f;
  Eigen::MatrixXf x = z * a;
  for (int64_t c = 0; c < cols; c += 97) x.col(c) *= 20.0f;  // salient channels
  Layer l{rows, cols, {}, {}, {}};
  const Eigen::MatrixXd h = (x.transpose() * x).cast<double>() * (2.0 / static_cast<double>(tokens));
  l.hessian.assign(h.data(), h.data() + h.size());
  const Eigen::VectorXf mean = x.cwiseAbs().colwise().mean();
  l.x_abs_mean.assign(mean.data(), mean.data() + mean.size());
  l.w.resize(static_cast<size_t>(rows * cols));
  for (auto& v : l.w) v = 0.02f * normal(rng);
  return l;
}

double errorOf(const Layer& l, const QuantizedTensor& q, const Eigen::MatrixXf& h) {
  const Tensor w_hat = q.dequantize();
  return hessianError(l.w.data(), w_hat.floats(), l.rows, l.cols, h);
}

}  // namespace

int main(int argc, char** argv) {
  bench::parseThreadsFlag(argc, argv, "bench_quantize");
  std::printf("%-10s %-14s %8s %8s %8s %8s %8s | %8s %8s %8s %8s\n", "shape", "scheme", "rtn_s", "gptq_s", "gptqAO_s",
              "awq_s", "clip_s", "gptq", "gptqAO", "awq", "awq+clip");
  const int64_t shapes[][2] = {{768, 288}, {288, 768}, {2048, 2048}};
  for (const auto& shape : shapes) {
    const Layer l = syntheticLayer(shape[0], shape[1], 4096, 1);
    const Eigen::MatrixXf h = Eigen::Map<const Eigen::MatrixXd>(l.hessian.data(), l.cols, l.cols).cast<float>();
    for (const QuantScheme& scheme : {QuantScheme{4, 32, false}, QuantScheme{3, 32, false}, QuantScheme{4, 0, true}}) {
      double t = bench::now();
      const QuantizedTensor rtn = quantizeRtn(l.w.data(), l.rows, l.cols, scheme);
      const double rtn_s = bench::now() - t;
      const double rtn_err = errorOf(l, rtn, h);

      GptqOptions o;
      t = bench::now();
      const GptqResult g = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, scheme, o);
      const double gptq_s = bench::now() - t;
      o.act_order = true;
      t = bench::now();
      const GptqResult ga = gptqQuantize(l.w.data(), l.rows, l.cols, l.hessian, scheme, o);
      const double gptq_ao_s = bench::now() - t;

      t = bench::now();
      const AwqScaleResult s = awqSearchScales({{l.w.data(), l.rows}}, l.cols, l.x_abs_mean, l.hessian, scheme);
      const double awq_s = bench::now() - t;
      // Clip on the scaled weight with the scaled input's Hessian; measure against the original.
      std::vector<float> w_scaled(l.w);
      for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t c = 0; c < l.cols; ++c)
          w_scaled[static_cast<size_t>(r * l.cols + c)] *= s.scales[static_cast<size_t>(c)];
      t = bench::now();
      const QuantizedTensor clipped =
          awqQuantize(w_scaled.data(), l.rows, l.cols, scaleHessian(l.hessian, s.scales), scheme, AwqOptions{});
      const double clip_s = bench::now() - t;
      const Tensor deq = clipped.dequantize();
      std::vector<float> w_hat(deq.floats(), deq.floats() + deq.numel());
      for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t c = 0; c < l.cols; ++c)
          w_hat[static_cast<size_t>(r * l.cols + c)] /= s.scales[static_cast<size_t>(c)];
      const double clip_err = hessianError(l.w.data(), w_hat.data(), l.rows, l.cols, h);

      char name[32];
      std::snprintf(name, sizeof name, "%lldx%lld", static_cast<long long>(l.rows), static_cast<long long>(l.cols));
      std::printf("%-10s %-14s %8.3f %8.3f %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f %8.3f   (alpha %.2f)\n", name,
                  schemeName(scheme).c_str(), rtn_s, gptq_s, gptq_ao_s, awq_s, clip_s, g.error / rtn_err,
                  ga.error / rtn_err, s.loss_after / s.loss_before, clip_err / rtn_err, s.alpha);
      std::fflush(stdout);
    }
  }
  std::printf("errors are relative to RTN's output error (lower is better); awq = the scale search alone\n");
  return 0;
}
