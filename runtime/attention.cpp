// attendHead: the portable path (the reference the SIMD paths are tested against), the shared
// softmax, and the choice of path.
#include "runtime/attention.h"

#include <algorithm>
#include <cmath>

#include "runtime/kernels.h"

namespace slmc::runtime {

namespace {

// q · k over one head. Sixteen running sums, which the compiler keeps in vector registers: one
// running sum is a chain of dependent adds that costs a few cycles per element (this file is
// built for baseline x86-64, and float sums are not reordered without being told to).
float headDot(const float* q, const float* k, int64_t hd) {
  float partial[16] = {};
  int64_t d = 0;
  for (; d + 16 <= hd; d += 16)
    for (int j = 0; j < 16; ++j) partial[j] += q[d + j] * k[d + j];
  float dot = 0;
  for (int j = 0; j < 16; ++j) dot += partial[j];
  for (; d < hd; ++d) dot += q[d] * k[d];
  return dot;
}

void scoresScalar(const float* q, const float* keys, const float*, int64_t stride, int64_t count, int64_t hd,
                  float scale, float* scores) {
  for (int64_t t = 0; t < count; ++t) scores[t] = headDot(q, keys + t * stride, hd) * scale;
}

void mixScalar(const float* p, const float* values, int64_t stride, int64_t count, int64_t hd, float* out) {
  std::fill(out, out + hd, 0.0f);
  for (int64_t t = 0; t < count; ++t) {
    const float* v = values + t * stride;
    for (int64_t d = 0; d < hd; ++d) out[d] += p[t] * v[d];
  }
}

float expScalar(float* scores, int64_t count, float max_score) {
  float sum = 0;
  for (int64_t t = 0; t < count; ++t) sum += scores[t] = std::exp(scores[t] - max_score);
  return sum;
}

}  // namespace

void attendHead(const float* q, const float* keys, const float* values, int64_t stride, int64_t visible,
                int64_t head_dim, float scale, float* scores, float* out, Isa isa) {
  detail::AttentionScoresFn scores_fn = scoresScalar;
  detail::AttentionMixFn mix_fn = mixScalar;
  detail::AttentionExpFn exp_fn = expScalar;
  if (isa == Isa::Avx512) exp_fn = detail::attentionExpAvx512;
  if (isa == Isa::Avx2) exp_fn = detail::attentionExpAvx2;
  if (isa == Isa::Avx512 && head_dim % 16 == 0) {
    scores_fn = detail::attentionScoresAvx512;
    mix_fn = detail::attentionMixAvx512;
  } else if (isa != Isa::Scalar && head_dim % 8 == 0) {
    scores_fn = detail::attentionScoresAvx2;
    mix_fn = detail::attentionMixAvx2;
  }
  // softmax(s)_t = e_t / Σ e, e_t = exp(s_t - max s): the mix sums e_t v_t, then divides once.
  scores_fn(q, keys, values, stride, visible, head_dim, scale, scores);
  const float sum = exp_fn(scores, visible, *std::max_element(scores, scores + visible));
  mix_fn(scores, values, stride, visible, head_dim, out);
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < head_dim; ++d) out[d] *= inv;
}

void attendHead(const float* q, const float* keys, const float* values, int64_t stride, int64_t visible,
                int64_t head_dim, float scale, float* scores, float* out) {
  attendHead(q, keys, values, stride, visible, head_dim, scale, scores, out, activeIsa());
}

}  // namespace slmc::runtime
