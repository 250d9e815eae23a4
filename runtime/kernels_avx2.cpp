// The AVX2 path (AVX2 + FMA + F16C; compiled with -mavx2 -mfma -mf16c; only called when the
// CPU has them). kernels_avx512.cpp's structure with eight float lanes per register.
//
// n <= 4 activation rows (generation, short prefill): one pass over each weight row, every
// weight decoded once and used for all n rows.
//   quantized (gemvRowQuant): codes → integers q - zero → float lanes (exact), FMA'd with x;
//     each group's sum is scaled once. Decoding:
//       4-bit: 16 bytes → low nibbles (even columns) and high nibbles (odd columns), zero
//              subtracted on bytes, widened 8 at a time; x was reordered to match
//              (XOrder::Nibbles32);
//       8-bit: 8 bytes widened;
//       2/3-bit: the 32-bit word holding 8 codes broadcast, lane k shifted right by k*bits.
//   float16 / bfloat16 / float32 (gemvRowFloat): widened (bfloat16: shifted) / loaded and FMA'd.
// n > 4 (gemmRows): a tile of 4 weight rows dequantized exactly into floats, multiplied by 3
// activation rows at a time with all 12 sums in registers.
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels_internal.h"

namespace slmc::runtime::detail {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---------------------------------------------------------------------------------------------
// Decoding codes into float lanes (unscaled). Loads may read past the codes they use, at most
// 2 bytes (kCodeOverRead, paddedCodeRow).

// A group's zero code, as the decoders subtract it: int32 lanes, and int8 lanes for nibbles.
struct Zero {
  __m256i lanes32;
  __m128i lanes8;
  explicit Zero(int zero) : lanes32(_mm256_set1_epi32(zero)), lanes8(_mm_set1_epi8(static_cast<char>(zero))) {}
};

// 8 codes of B bits starting on byte p, in column order, as floats q - zero (exact). Reads 4
// bytes (B < 8) or 8 (B = 8).
template <int B>
inline __m256 codes8(const uint8_t* p, const Zero& zero) {
  __m256i codes;
  if constexpr (B == 8) {
    codes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  } else {
    uint32_t word;
    std::memcpy(&word, p, sizeof word);
    const __m256i shifts = _mm256_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B);
    codes = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts),
                             _mm256_set1_epi32((1 << B) - 1));
  }
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(codes, zero.lanes32));
}

// 32 codes from column c (a multiple of 8; of 32 when NIBBLES) of a packed row, as q - zero
// into q[0..3]. NIBBLES (4-bit only): q[0], q[1] = the 16 even columns, q[2], q[3] = the 16
// odd ones; q - zero is taken on bytes (|q - zero| < 16) and sign-extended.
template <int B, bool NIBBLES>
inline void codes32(const uint8_t* row, int64_t c, const Zero& zero, __m256* q) {
  if constexpr (NIBBLES) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m128i even = _mm_sub_epi8(_mm_and_si128(bytes, low4), zero.lanes8);
    const __m128i odd = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4), zero.lanes8);
    q[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(even));
    q[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(even, even)));
    q[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(odd));
    q[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(odd, odd)));
  } else {
    for (int k = 0; k < 4; ++k) q[k] = codes8<B>(row + (c + 8 * k) * B / 8, zero);
  }
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

// ---------------------------------------------------------------------------------------------
// n <= 4: one pass over a weight row.

// out[i] = W[r] · x[i] for NX activation rows, W quantized with B-bit codes.
template <int NX, int B, bool NIBBLES>
void gemvRowQuant(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes, const Activations& a, float* out) {
  constexpr int U = NX == 1 ? 4 : NX == 2 ? 2 : 1;  // accumulators per activation row: 4 FMA chains in flight
  const int64_t cols = m.cols, group_size = m.groupSize(), groups = m.groups();
  const float* x = a.x_ordered;  // in Nibbles32 order when NIBBLES
  __m256 row_acc[NX];
  float row_tail[NX];
  for (int i = 0; i < NX; ++i) {
    row_acc[i] = _mm256_setzero_ps();
    row_tail[i] = 0.0f;
  }
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    const int zero_code = grids.zero[g];
    const Zero zero(zero_code);
    __m256 acc[NX][U];  // Σ (q - zero) x over the group
    float tail[NX];
    for (int i = 0; i < NX; ++i) {
      tail[i] = 0.0f;
      for (int u = 0; u < U; ++u) acc[i][u] = _mm256_setzero_ps();
    }
    int64_t c = c0;
    if (c0 % 8 == 0) {  // codes start on a byte: SIMD
      for (; c + 32 <= c1; c += 32) {
        __m256 q[4];
        codes32<B, NIBBLES>(codes, c, zero, q);
        for (int i = 0; i < NX; ++i) {
          const float* xi = x + i * cols + c;
          acc[i][0] = _mm256_fmadd_ps(q[0], _mm256_loadu_ps(xi), acc[i][0]);
          acc[i][1 % U] = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xi + 8), acc[i][1 % U]);
          acc[i][2 % U] = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xi + 16), acc[i][2 % U]);
          acc[i][3 % U] = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xi + 24), acc[i][3 % U]);
        }
      }
      // Past the last full 32-column block (x_ordered is in column order there).
      for (; c + 8 <= c1; c += 8) {
        const __m256 q = codes8<B>(codes + c * B / 8, zero);
        for (int i = 0; i < NX; ++i) acc[i][0] = _mm256_fmadd_ps(q, _mm256_loadu_ps(x + i * cols + c), acc[i][0]);
      }
    }
    for (; c < c1; ++c) {
      const float q = static_cast<float>(static_cast<int>(codeAt(codes, c, B)) - zero_code);
      for (int i = 0; i < NX; ++i) tail[i] += q * x[i * cols + c];
    }
    const float scale = grids.scale[g];
    const __m256 scale8 = _mm256_set1_ps(scale);
#pragma GCC unroll 4
    for (int i = 0; i < NX; ++i) {
      __m256 sum = acc[i][0];
      for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[i][u]);
      row_acc[i] = _mm256_fmadd_ps(sum, scale8, row_acc[i]);
      row_tail[i] += scale * tail[i];
    }
  }
  for (int i = 0; i < NX; ++i) out[i] = hsum(row_acc[i]) + row_tail[i];
}

// A float weight row: load8(c) gives columns c..c+7 as float32.
struct F32Row {
  const float* w;
  __m256 load8(int64_t c) const { return _mm256_loadu_ps(w + c); }
  float at(int64_t c) const { return w[c]; }
};

struct F16Row {
  const uint16_t* w;
  __m256 load8(int64_t c) const { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + c))); }
  float at(int64_t c) const { return _cvtsh_ss(w[c]); }
};

// bfloat16 is a float32's top half: widened to 32 bits and shifted up, exactly.
struct BF16Row {
  const uint16_t* w;
  __m256 load8(int64_t c) const {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + c)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  float at(int64_t c) const { return bf16ToF32(w[c]); }
};

// out[i] = W[r] · x[i] for NX activation rows, W float32, float16 or bfloat16.
template <int NX, class Row>
void gemvRowFloat(const Row& row, int64_t cols, const float* x, float* out) {
  constexpr int U = NX == 1 ? 4 : NX == 2 ? 2 : 1;
  __m256 acc[NX][U];
  for (int i = 0; i < NX; ++i)
    for (int u = 0; u < U; ++u) acc[i][u] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    const __m256 w0 = row.load8(c), w1 = row.load8(c + 8), w2 = row.load8(c + 16), w3 = row.load8(c + 24);
    for (int i = 0; i < NX; ++i) {
      const float* xi = x + i * cols + c;
      acc[i][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xi), acc[i][0]);
      acc[i][1 % U] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xi + 8), acc[i][1 % U]);
      acc[i][2 % U] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xi + 16), acc[i][2 % U]);
      acc[i][3 % U] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xi + 24), acc[i][3 % U]);
    }
  }
  for (; c + 8 <= cols; c += 8) {
    const __m256 w0 = row.load8(c);
    for (int i = 0; i < NX; ++i) acc[i][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i * cols + c), acc[i][0]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < NX; ++i) {
    __m256 sum = acc[i][0];
    for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[i][u]);
    float total = hsum(sum);
    for (int64_t k = c; k < cols; ++k) total += row.at(k) * x[i * cols + k];
    out[i] = total;
  }
}

// ---------------------------------------------------------------------------------------------
// n > 4: tiles of weight rows dequantized into floats, then a register-blocked product.

// out[cols] = W[r] dequantized exactly: (q - zero) * scale.
template <int B>
void dequantizeRowQuant(const QuantMatrix& m, int64_t r, const uint8_t* codes, float* out) {
  const int64_t group_size = m.groupSize();
  thread_local RowGrids grids;
  loadRowGrids(m, r, grids);
  for (int64_t g = 0; g < m.groups(); ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    const float scale = grids.scale[g];
    const int zero_code = grids.zero[g];
    const Zero zero(zero_code);
    const __m256 scale8 = _mm256_set1_ps(scale);
    int64_t c = c0;
    if (c0 % 8 == 0)
      for (; c + 8 <= c1; c += 8) _mm256_storeu_ps(out + c, _mm256_mul_ps(codes8<B>(codes + c * B / 8, zero), scale8));
    for (; c < c1; ++c) out[c] = static_cast<float>(static_cast<int>(codeAt(codes, c, B)) - zero_code) * scale;
  }
}

// out[cols] = a 16-bit float row (F16Row or BF16Row) widened to float32.
template <class Row>
void widenRow(const Row& row, int64_t cols, float* out) {
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) _mm256_storeu_ps(out + c, row.load8(c));
  for (; c < cols; ++c) out[c] = row.at(c);
}

// y[j * y_stride + r] = w[r] · x[j] for TR weight rows and TX activation rows, all in registers.
template <int TR, int TX>
void gemmTile(const float* const* w, const float* x, int64_t cols, float* y, int64_t y_stride) {
  __m256 acc[TR][TX];
  for (int r = 0; r < TR; ++r)
    for (int j = 0; j < TX; ++j) acc[r][j] = _mm256_setzero_ps();
  const int64_t c8 = cols / 8 * 8;
  for (int64_t c = 0; c < c8; c += 8) {
    __m256 xv[TX];
    for (int j = 0; j < TX; ++j) xv[j] = _mm256_loadu_ps(x + j * cols + c);
    for (int r = 0; r < TR; ++r) {
      const __m256 wv = _mm256_loadu_ps(w[r] + c);
      for (int j = 0; j < TX; ++j) acc[r][j] = _mm256_fmadd_ps(wv, xv[j], acc[r][j]);
    }
  }
  // Fully unrolled so that acc stays in registers (GCC otherwise keeps it on the stack).
#pragma GCC unroll 4
  for (int r = 0; r < TR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < TX; ++j) {
      float sum = hsum(acc[r][j]);
      for (int64_t c = c8; c < cols; ++c) sum += w[r][c] * x[j * cols + c];
      y[j * y_stride + r] = sum;
    }
}

constexpr int kTileRows = 4;  // weight rows per tile
constexpr int kTileCols = 3;  // activation rows per register block (4 x 3 accumulators + 4 loads = 16 registers)

template <int TR>
void gemmTileRows(const float* const* w, const float* x, int64_t n, int64_t cols, float* y, int64_t y_stride) {
  int64_t i = 0;
  for (; i + kTileCols <= n; i += kTileCols) gemmTile<TR, kTileCols>(w, x + i * cols, cols, y + i * y_stride, y_stride);
  switch (n - i) {
    case 2:
      gemmTile<TR, 2>(w, x + i * cols, cols, y + i * y_stride, y_stride);
      break;
    case 1:
      gemmTile<TR, 1>(w, x + i * cols, cols, y + i * y_stride, y_stride);
      break;
    default:
      break;
  }
}

// Weight row r as float32: a pointer into the matrix (F32) or into `buffer`, widened (F16,
// BF16) or dequantized (B-bit codes; B = 0 for float weights).
template <int B>
const float* floatRow(const QuantMatrix& m, int64_t r, float* buffer, std::vector<uint8_t>& last_row_copy) {
  if constexpr (B == 0) {
    if (m.type == WeightType::F32) return m.f32 + r * m.cols;
    if (m.type == WeightType::BF16)
      widenRow(BF16Row{m.bf16 + r * m.cols}, m.cols, buffer);
    else
      widenRow(F16Row{m.f16 + r * m.cols}, m.cols, buffer);
  } else {
    dequantizeRowQuant<B>(m, r, paddedCodeRow(m, r, last_row_copy), buffer);
  }
  return buffer;
}

template <int B>
void gemmRows(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local std::vector<float> tile;
  thread_local std::vector<uint8_t> last_row_copy;
  tile.resize(static_cast<size_t>(kTileRows * m.cols));
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTileRows) {
    const int tr = static_cast<int>(std::min<int64_t>(kTileRows, row_end - r0));
    const float* w[kTileRows];
    for (int t = 0; t < tr; ++t) w[t] = floatRow<B>(m, r0 + t, tile.data() + t * m.cols, last_row_copy);
    switch (tr) {
      case 4:
        gemmTileRows<4>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      case 3:
        gemmTileRows<3>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      case 2:
        gemmTileRows<2>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      default:
        gemmTileRows<1>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Drivers: one weight row at a time for n <= 4.

template <int NX, int B>
void gemvRowsQuant(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local std::vector<uint8_t> last_row_copy;
  thread_local RowGrids grids;
  const bool nibbles = a.order == XOrder::Nibbles32;
  float out[NX];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* codes = paddedCodeRow(m, r, last_row_copy);
    loadRowGrids(m, r, grids);
    if (nibbles)
      gemvRowQuant<NX, B, true>(m, grids, codes, a, out);
    else
      gemvRowQuant<NX, B, false>(m, grids, codes, a, out);
    for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
  }
}

template <int NX>
void gemvRows(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  float out[NX];
  switch (m.type) {
    case WeightType::F32:
      for (int64_t r = row_begin; r < row_end; ++r) {
        gemvRowFloat<NX>(F32Row{m.f32 + r * m.cols}, m.cols, a.x, out);
        for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
      }
      return;
    case WeightType::F16:
      for (int64_t r = row_begin; r < row_end; ++r) {
        gemvRowFloat<NX>(F16Row{m.f16 + r * m.cols}, m.cols, a.x, out);
        for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
      }
      return;
    case WeightType::BF16:
      for (int64_t r = row_begin; r < row_end; ++r) {
        gemvRowFloat<NX>(BF16Row{m.bf16 + r * m.cols}, m.cols, a.x, out);
        for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
      }
      return;
    case WeightType::Q2:
      return gemvRowsQuant<NX, 2>(m, a, y, row_begin, row_end);
    case WeightType::Q3:
      return gemvRowsQuant<NX, 3>(m, a, y, row_begin, row_end);
    case WeightType::Q4:
      return gemvRowsQuant<NX, 4>(m, a, y, row_begin, row_end);
    case WeightType::Q8:
      return gemvRowsQuant<NX, 8>(m, a, y, row_begin, row_end);
  }
}

}  // namespace

void matmulRowsAvx2(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  switch (a.n) {
    case 1:
      return gemvRows<1>(m, a, y, row_begin, row_end);
    case 2:
      return gemvRows<2>(m, a, y, row_begin, row_end);
    case 3:
      return gemvRows<3>(m, a, y, row_begin, row_end);
    case 4:
      return gemvRows<4>(m, a, y, row_begin, row_end);
    default:
      break;
  }
  switch (m.type) {
    case WeightType::Q2:
      return gemmRows<2>(m, a, y, row_begin, row_end);
    case WeightType::Q3:
      return gemmRows<3>(m, a, y, row_begin, row_end);
    case WeightType::Q4:
      return gemmRows<4>(m, a, y, row_begin, row_end);
    case WeightType::Q8:
      return gemmRows<8>(m, a, y, row_begin, row_end);
    default:
      return gemmRows<0>(m, a, y, row_begin, row_end);  // float weights: no codes
  }
}

}  // namespace slmc::runtime::detail
