// attendHead's AVX2 halves (attention_simd.h), for head_dim % 8 == 0. AVX2 and FMA are
// enabled by the `#pragma GCC target` after the includes (kernels_avx2.cpp says why); only
// called when the CPU has them.
#include <immintrin.h>

#include <cstdint>
#include <initializer_list>

#include "runtime/attention.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "runtime/attention_simd.h"

namespace slmc::runtime::detail {

namespace {

struct Avx2Floats {
  static constexpr int64_t kWidth = 8;
  using Reg = __m256;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg broadcast(float x) { return _mm256_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg roundNearest(Reg a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg pow2(Reg n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static void store(float* p, Reg a) { _mm256_storeu_ps(p, a); }
  static float sum(Reg a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace

void attentionScoresAvx2(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                         int64_t head_dim, float scale, float* scores) {
  attentionScoresSimd<Avx2Floats>(q, keys, values, stride, count, head_dim, scale, scores);
}

void attentionMixAvx2(const float* p, const float* values, int64_t stride, int64_t count, int64_t head_dim,
                      float* out) {
  attentionMixSimd<Avx2Floats>(p, values, stride, count, head_dim, out);
}

float attentionExpAvx2(float* scores, int64_t count, float max_score) {
  return attentionExpSimd<Avx2Floats>(scores, count, max_score);
}

}  // namespace slmc::runtime::detail

#pragma GCC pop_options
