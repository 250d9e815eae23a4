// matmulInt8's kernel: 4- and 8-bit codes times int8 activations with AVX-512 VNNI (compiled
// with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c; only called when the
// CPU has them). For a group g of 32-column blocks b (codes q, zero z, scale s; activations
// xq = round(x / d_b), see matmulInt8 in kernels.cpp):
//   Σ_c (q_c - z) s x_c  ≈  s (Σ_b d_b Σ_{c in b} q_c xq_c  -  z Σ_b d_b Σ_{c in b} xq_c)
// vpdpbusd multiplies the unsigned codes by the signed xq, four products into each 32-bit lane;
// a block's 8 lanes are converted to float once and scaled by d_b; the zero-point term was
// summed per group when x was quantized (Activations::xq_group_sum).
#include <immintrin.h>

#include "runtime/kernels_internal.h"

namespace slmc::runtime::detail {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Scales and zero codes of row r, unpacked (RowGrids).
void loadRowGrids(const QuantMatrix& m, int64_t r, RowGrids& grids) {
  const int64_t groups = m.groups();
  const uint16_t* s = m.scales + r * groups;
  grids.scale.resize(static_cast<size_t>(groups));
  int64_t g = 0;
  for (; g + 8 <= groups; g += 8)
    _mm256_storeu_ps(grids.scale.data() + g, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + g))));
  for (; g < groups; ++g) grids.scale[g] = _cvtsh_ss(s[g]);
  grids.loadZeros(m, r);
}

// The 32 codes of the block at column c as unsigned bytes, in the order xq is laid out in:
// 4-bit as the 16 low then the 16 high nibbles of its bytes (XOrder::Nibbles32). Reads only
// the block's own bytes.
template <int B>
inline __m256i blockCodes(const uint8_t* row, int64_t c) {
  if constexpr (B == 4) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m128i even = _mm_and_si128(bytes, low4), odd = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(even), odd, 1);
  } else {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
  }
}

// out[i] ≈ W[r] · x[i] for NX activation rows.
template <int NX, int B>
void gemvRowInt8(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes, const Activations& a, float* out) {
  const int64_t cols = m.cols, group_size = m.groupSize(), groups = m.groups(), blocks = cols / kInt8Block;
  __m256 row_acc[NX];
  float zero_terms[NX];
  for (int i = 0; i < NX; ++i) {
    row_acc[i] = _mm256_setzero_ps();
    zero_terms[i] = 0.0f;
  }
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    __m256 acc[NX][2];  // two chains: blocks alternate
    for (int i = 0; i < NX; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int64_t c = c0;
    for (; c + 2 * kInt8Block <= c1; c += 2 * kInt8Block) {
      const __m256i q0 = blockCodes<B>(codes, c), q1 = blockCodes<B>(codes, c + kInt8Block);
      for (int i = 0; i < NX; ++i) {
        const int8_t* xq = a.xq + i * cols + c;
        const float* d = a.xq_scale + i * blocks + c / kInt8Block;
        const __m256i dot0 =
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), q0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
        const __m256i dot1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q1,
                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + kInt8Block)));
        acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot0), _mm256_broadcast_ss(d), acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot1), _mm256_broadcast_ss(d + 1), acc[i][1]);
      }
    }
    if (c < c1) {  // an odd block (groups of 32, 96, ...)
      const __m256i q = blockCodes<B>(codes, c);
      for (int i = 0; i < NX; ++i) {
        const __m256i dot = _mm256_dpbusd_epi32(
            _mm256_setzero_si256(), q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.xq + i * cols + c)));
        acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                    _mm256_broadcast_ss(a.xq_scale + i * blocks + c / kInt8Block), acc[i][0]);
      }
    }
    const float scale = grids.scale[g], zero = static_cast<float>(grids.zero[g]);
    for (int i = 0; i < NX; ++i) {
      row_acc[i] = _mm256_fmadd_ps(_mm256_add_ps(acc[i][0], acc[i][1]), _mm256_set1_ps(scale), row_acc[i]);
      zero_terms[i] += scale * zero * a.xq_group_sum[i * groups + g];
    }
  }
  for (int i = 0; i < NX; ++i) out[i] = hsum(row_acc[i]) - zero_terms[i];
}

template <int NX, int B>
void rowsInt8(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local RowGrids grids;
  float out[NX];
  for (int64_t r = row_begin; r < row_end; ++r) {
    loadRowGrids(m, r, grids);
    gemvRowInt8<NX, B>(m, grids, m.codes + r * codeRowBytes(m.cols, B), a, out);
    for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
  }
}

template <int B>
void rowsInt8(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  switch (a.n) {
    case 1:
      return rowsInt8<1, B>(m, a, y, row_begin, row_end);
    case 2:
      return rowsInt8<2, B>(m, a, y, row_begin, row_end);
    case 3:
      return rowsInt8<3, B>(m, a, y, row_begin, row_end);
    default:
      return rowsInt8<4, B>(m, a, y, row_begin, row_end);
  }
}

}  // namespace

void matmulRowsInt8Vnni(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  if (m.type == WeightType::Q4)
    rowsInt8<4>(m, a, y, row_begin, row_end);
  else
    rowsInt8<8>(m, a, y, row_begin, row_end);
}

}  // namespace slmc::runtime::detail
