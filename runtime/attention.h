// One query head's attention over the KV cache, the runtime's second hot loop after the
// matmuls: at a context of a few hundred positions a token reads as many bytes of cached keys
// and values as of weights. Like the matmuls, each SIMD path is compiled for its own
// instruction set (attention_avx2.cpp, attention_avx512.cpp) and chosen at run time. The SIMD
// paths' softmax uses a vector exp within 2 ulp of std::exp (the scalar path's); otherwise
// paths differ only in the order of their sums.
#pragma once

#include <cstdint>

#include "runtime/cpu_features.h"

namespace slmc::runtime {

// out[head_dim] = Σ_{t < visible} p_t · v_t,  p = softmax_t(scale · q · k_t), where k_t and v_t
// are the head_dim floats at keys + t · stride and values + t · stride (one head's slice of
// cache row t). `scores` has room for `visible` floats (scratch). visible >= 1.
void attendHead(const float* q, const float* keys, const float* values, int64_t stride, int64_t visible,
                int64_t head_dim, float scale, float* scores, float* out);
// The same on a named path (tests compare them); `isa` must be cpuSupports'd. A path whose
// vector width does not divide head_dim falls back to the next narrower one.
void attendHead(const float* q, const float* keys, const float* values, int64_t stride, int64_t visible,
                int64_t head_dim, float scale, float* scores, float* out, Isa isa);

namespace detail {
// The three steps of attendHead per path: scores[t] = scale · q · k_t for t < count (prefetching
// the values, which the mix reads next); scores[t] ← exp(scores[t] - max) in place, returning
// their sum; out[head_dim] = Σ_{t < count} p_t · v_t. The scores and mix of AVX2 need
// head_dim % 8 == 0, of AVX-512 head_dim % 16 == 0; the exp takes any count.
using AttentionScoresFn = void (*)(const float* q, const float* keys, const float* values, int64_t stride,
                                   int64_t count, int64_t head_dim, float scale, float* scores);
using AttentionMixFn = void (*)(const float* p, const float* values, int64_t stride, int64_t count,
                                int64_t head_dim, float* out);
using AttentionExpFn = float (*)(float* scores, int64_t count, float max_score);
void attentionScoresAvx2(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                         int64_t head_dim, float scale, float* scores);
void attentionMixAvx2(const float* p, const float* values, int64_t stride, int64_t count, int64_t head_dim,
                      float* out);
float attentionExpAvx2(float* scores, int64_t count, float max_score);
void attentionScoresAvx512(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                           int64_t head_dim, float scale, float* scores);
void attentionMixAvx512(const float* p, const float* values, int64_t stride, int64_t count, int64_t head_dim,
                        float* out);
float attentionExpAvx512(float* scores, int64_t count, float max_score);
}  // namespace detail

}  // namespace slmc::runtime
