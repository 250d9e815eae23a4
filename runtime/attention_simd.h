// attendHead's two SIMD halves, written once over a vector type V and instantiated by
// attention_avx2.cpp and attention_avx512.cpp, each compiled for its own instruction set. Only
// those files include this header; everything here has internal linkage, so each file keeps
// its own copy compiled with its own flags (a shared out-of-line copy could run AVX-512 code on
// an AVX2-only CPU).
//
// V provides: kWidth (floats per vector), type `Reg`, zero(), load(p), broadcast(x),
// fma(a, b, c) = a·b + c, add(a, b), store(p, a) and sum(a) (horizontal).
//
// Scores: four keys at a time, each a vector of running products over the head's kWidth-column
// slices, reduced once per key. Mix: up to four vectors of the output at a time kept in
// registers while the positions stream by (attentionMixSlice), so every cache line of the
// values is read once, in runs of adjacent lines the hardware prefetcher follows (a cache row
// is several heads wide: one line per row would be a 2-4 KiB stride).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace slmc::runtime::detail {
namespace {

// Rows ahead of the scores loop that it prefetches: a head's keys are a short stream (a few
// KiB to a few hundred) that the hardware prefetcher has barely ramped up on when it ends.
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
        if (r + kKeysAhead < count) _mm_prefetch(reinterpret_cast<const char*>(keys + (r + kKeysAhead) * stride + d), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(values + r * stride + d), _MM_HINT_T0);
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
