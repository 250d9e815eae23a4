// A linear layer with correlated calibration inputs, for the tests of the second-order
// compressors (GPTQ, SparseGPT, Wanda): weights, tokens X, the Hessian 2/n·XᵀX and the input
// channel norms, plus the output error measured directly on the tokens.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace slmc::test {

struct Layer {
  int64_t rows = 32, cols = 64, tokens = 512;
  std::vector<float> w;         // [rows, cols]
  std::vector<float> x;         // [tokens, cols]
  std::vector<double> hessian;  // 2/n XᵀX
  std::vector<float> norms;     // ‖X_j‖₂
};

// X = Z·A·diag(s): Gaussian tokens mixed by a random matrix (correlated input features), with
// per-channel scales s_j = exp(N(0, 1)) when `unequal_scales` (LLM inputs have a few loud
// channels), 1 otherwise.
inline Layer correlatedLayer(uint32_t seed, bool unequal_scales = false, int64_t dead_column = -1) {
  Layer l;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> z(static_cast<size_t>(l.tokens * l.cols)), a(static_cast<size_t>(l.cols * l.cols));
  std::vector<float> s(static_cast<size_t>(l.cols), 1.0f);
  for (auto& v : z) v = normal(rng);
  for (auto& v : a) v = normal(rng);
  if (unequal_scales)
    for (auto& v : s) v = std::exp(normal(rng));
  l.x.assign(z.size(), 0.0f);
  for (int64_t t = 0; t < l.tokens; ++t)
    for (int64_t k = 0; k < l.cols; ++k)
      for (int64_t j = 0; j < l.cols; ++j) l.x[t * l.cols + j] += z[t * l.cols + k] * a[k * l.cols + j] * s[j];
  if (dead_column >= 0)
    for (int64_t t = 0; t < l.tokens; ++t) l.x[t * l.cols + dead_column] = 0.0f;
  l.hessian.assign(static_cast<size_t>(l.cols * l.cols), 0.0);
  l.norms.assign(static_cast<size_t>(l.cols), 0.0f);
  for (int64_t t = 0; t < l.tokens; ++t)
    for (int64_t i = 0; i < l.cols; ++i)
      for (int64_t j = 0; j < l.cols; ++j)
        l.hessian[i * l.cols + j] += 2.0 / l.tokens * l.x[t * l.cols + i] * l.x[t * l.cols + j];
  for (int64_t j = 0; j < l.cols; ++j) l.norms[j] = static_cast<float>(std::sqrt(l.hessian[j * l.cols + j] * l.tokens / 2));
  l.w.resize(static_cast<size_t>(l.rows * l.cols));
  for (auto& v : l.w) v = 0.05f * normal(rng);
  return l;
}

// ‖W Xᵀ - Ŵ Xᵀ‖²·2/n computed directly from the tokens.
inline double outputError(const Layer& l, const std::vector<float>& w_hat) {
  double e = 0;
  for (int64_t t = 0; t < l.tokens; ++t)
    for (int64_t r = 0; r < l.rows; ++r) {
      double d = 0;
      for (int64_t c = 0; c < l.cols; ++c)
        d += (static_cast<double>(w_hat[r * l.cols + c]) - l.w[r * l.cols + c]) * l.x[t * l.cols + c];
      e += d * d;
    }
  return 2.0 * e / l.tokens;
}

}  // namespace slmc::test
