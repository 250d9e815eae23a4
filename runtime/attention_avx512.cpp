// attendHead's AVX-512 halves (attention_simd.h), for head_dim % 16 == 0. AVX-512 and FMA are
// enabled by the `#pragma GCC target` after the includes (kernels_avx512.cpp says why); only
// called when the CPU has them.
#include "runtime/avx512_intrinsics.h"

#include <cstdint>
#include <initializer_list>

#include "runtime/attention.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")

#include "runtime/attention_simd.h"

namespace slmc::runtime::detail {

namespace {

struct Avx512Floats {
  static constexpr int64_t kWidth = 16;
  using Reg = __m512;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg broadcast(float x) { return _mm512_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg roundNearest(Reg a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg pow2(Reg n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  static void store(float* p, Reg a) { _mm512_storeu_ps(p, a); }
  static float sum(Reg a) { return _mm512_reduce_add_ps(a); }
};

}  // namespace

void attentionScoresAvx512(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                           int64_t head_dim, float scale, float* scores) {
  attentionScoresSimd<Avx512Floats>(q, keys, values, stride, count, head_dim, scale, scores);
}

void attentionMixAvx512(const float* p, const float* values, int64_t stride, int64_t count, int64_t head_dim,
                        float* out) {
  attentionMixSimd<Avx512Floats>(p, values, stride, count, head_dim, out);
}

float attentionExpAvx512(float* scores, int64_t count, float max_score) {
  return attentionExpSimd<Avx512Floats>(scores, count, max_score);
}

}  // namespace slmc::runtime::detail

#pragma GCC pop_options
