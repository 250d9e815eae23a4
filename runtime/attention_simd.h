// attendHead's two SIMD halves, written once over a vector type V and instantiated by
// attention_avx2.cpp and attention_avx512.cpp, each for its own instruction set. Only those
// files include this header, inside their `#pragma GCC target` region; everything here has
// internal linkage, so each file keeps its own copy compiled for its own ISA (a shared
// out-of-line copy could run AVX-512 code on an AVX2-only CPU).
//
// V provides: kWidth (floats per vector), type `Reg`, zero(), load(p), broadcast(x),
// fma(a, b, c) = a·b + c, add(a, b), mul(a, b), max(a, b), roundNearest(a), pow2(n) (2^n for
// integral n in [-126, 127]), store(p, a) and sum(a) (horizontal).
//
// Scores: four keys at a time, each a vector of running products over the head's kWidth-column
// slices, reduced once per key. Mix: up to four vectors of the output at a time kept in
// registers while the positions stream by (attentionMixSlice), so every cache line of the
// values is read once, in runs of adjacent lines the hardware prefetcher follows (a cache row
// is several heads wide: one line per row would be a 2-4 KiB stride).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <initializer_list>

namespace slmc::runtime::detail {
namespace {

// Rows ahead of the scores loop that it prefetches: a head's keys are a short stream (a few
// KiB to a few hundred) that the hardware prefetcher has barely ramped up on when it ends.
// Prefetches go to L2 (T1), not L1: with the cache evicted by a token's weights, 16 heads x 96
// positions of 64 took 19% less time on one thread (871 against 1070 us for 16 layers) and
// 10-15% less on two, and 10% less with the cache in L3; 16 to 64 rows ahead measured alike.
constexpr int64_t kKeysAhead = 16;

template <class V>
void attentionScoresSimd(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                         int64_t head_dim, float scale, float* scores) {
  using Reg = typename V::Reg;
  int64_t t = 0;
  for (; t + 4 <= count; t += 4) {
    const float* k = keys + t * stride;
    // The keys kKeysAhead rows on, and the values of these rows, which the mix reads next.
    for (int64_t r = t; r < t + 4; ++r)
      for (int64_t d = 0; d < head_dim; d += 16) {
        if (r + kKeysAhead < count) _mm_prefetch(reinterpret_cast<const char*>(keys + (r + kKeysAhead) * stride + d), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(values + r * stride + d), _MM_HINT_T1);
      }
    Reg s0 = V::zero(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t d = 0; d < head_dim; d += V::kWidth) {
      const Reg qd = V::load(q + d);
      s0 = V::fma(qd, V::load(k + d), s0);
      s1 = V::fma(qd, V::load(k + stride + d), s1);
      s2 = V::fma(qd, V::load(k + 2 * stride + d), s2);
      s3 = V::fma(qd, V::load(k + 3 * stride + d), s3);
    }
    scores[t] = V::sum(s0) * scale;
    scores[t + 1] = V::sum(s1) * scale;
    scores[t + 2] = V::sum(s2) * scale;
    scores[t + 3] = V::sum(s3) * scale;
  }
  for (; t < count; ++t) {
    const float* k = keys + t * stride;
    Reg s = V::zero();
    for (int64_t d = 0; d < head_dim; d += V::kWidth) s = V::fma(V::load(q + d), V::load(k + d), s);
    scores[t] = V::sum(s) * scale;
  }
}

// exp(x) for x <= 0 (softmax scores less their maximum), as Cephes' expf: x = n ln 2 + r with
// |r| <= ln(2) / 2, e^r by its degree-7 polynomial (within 2 ulp of e^r), times 2^n. Below
// ln(FLT_MIN) ≈ -87.3 it returns FLT_MIN: beside the maximum's 1, such a weight is nil either way.
template <class V>
typename V::Reg expNonPositive(typename V::Reg x) {
  x = V::max(x, V::broadcast(-87.3365448f));
  const typename V::Reg n = V::roundNearest(V::mul(x, V::broadcast(1.44269504088896341f)));
  x = V::fma(n, V::broadcast(-0.693359375f), x);  // ln 2 in two parts: n · 0.693359375 is exact
  x = V::fma(n, V::broadcast(2.12194440e-4f), x);
  typename V::Reg y = V::broadcast(1.9875691500e-4f);
  for (const float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f})
    y = V::fma(y, x, V::broadcast(c));
  y = V::fma(V::mul(y, x), x, V::add(x, V::broadcast(1.0f)));
  return V::mul(y, V::pow2(n));
}

// scores[t] ← exp(scores[t] - max_score) for t < count; returns their sum.
template <class V>
float attentionExpSimd(float* scores, int64_t count, float max_score) {
  using Reg = typename V::Reg;
  const Reg shift = V::broadcast(-max_score);
  Reg sum = V::zero();
  int64_t t = 0;
  for (; t + V::kWidth <= count; t += V::kWidth) {
    const Reg e = expNonPositive<V>(V::add(V::load(scores + t), shift));
    V::store(scores + t, e);
    sum = V::add(sum, e);
  }
  float total = V::sum(sum);
  if (t < count) {  // the last < kWidth scores, through a full vector
    alignas(64) float rest[V::kWidth];
    for (int64_t j = 0; j < V::kWidth; ++j) rest[j] = t + j < count ? scores[t + j] : max_score - 100.0f;
    V::store(rest, expNonPositive<V>(V::add(V::load(rest), shift)));
    for (int64_t j = 0; t + j < count; ++j) total += scores[t + j] = rest[j];
  }
  return total;
}

// out[NV · kWidth] = Σ_t p_t v_t over one slice of the head: NV vectors of each value row, read
// side by side (one contiguous run per row), with two sets of running sums (even and odd t) so
// that consecutive FMAs into one register are not back to back.
template <class V, int NV>
void attentionMixSlice(const float* p, const float* v, int64_t stride, int64_t count, float* out) {
  using Reg = typename V::Reg;
  Reg even[NV], odd[NV];
  for (int j = 0; j < NV; ++j) even[j] = odd[j] = V::zero();
  int64_t t = 0;
  for (; t + 2 <= count; t += 2) {
    const Reg pe = V::broadcast(p[t]), po = V::broadcast(p[t + 1]);
    const float *ve = v + t * stride, *vo = ve + stride;
    for (int j = 0; j < NV; ++j) {
      even[j] = V::fma(pe, V::load(ve + j * V::kWidth), even[j]);
      odd[j] = V::fma(po, V::load(vo + j * V::kWidth), odd[j]);
    }
  }
  if (t < count)
    for (int j = 0; j < NV; ++j) even[j] = V::fma(V::broadcast(p[t]), V::load(v + t * stride + j * V::kWidth), even[j]);
  for (int j = 0; j < NV; ++j) V::store(out + j * V::kWidth, V::add(even[j], odd[j]));
}

template <class V>
void attentionMixSimd(const float* p, const float* values, int64_t stride, int64_t count, int64_t head_dim,
                      float* out) {
  int64_t d = 0;
  for (; d + 4 * V::kWidth <= head_dim; d += 4 * V::kWidth) attentionMixSlice<V, 4>(p, values + d, stride, count, out + d);
  switch ((head_dim - d) / V::kWidth) {
    case 3:
      return attentionMixSlice<V, 3>(p, values + d, stride, count, out + d);
    case 2:
      return attentionMixSlice<V, 2>(p, values + d, stride, count, out + d);
    case 1:
      return attentionMixSlice<V, 1>(p, values + d, stride, count, out + d);
    default:
      return;
  }
}

}  // namespace
}  // namespace slmc::runtime::detail
