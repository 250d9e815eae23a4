// The SIMD paths' matmul (the tiling, the loops and the type dispatch), written once over an
// operations struct V and instantiated by kernels_avx2.cpp and kernels_avx512.cpp, each for its
// own instruction set. Only those files include this header, after kernels_internal.h and
// inside their `#pragma GCC target` region; everything here has internal linkage, so each file
// keeps its own copy compiled for its own ISA (a shared out-of-line copy could run AVX-512 code
// on an AVX2-only CPU).
//
// V provides:
//   kWidth (floats per vector), type `Reg`, zero(), load(p), loadF16(p) (kWidth float16 bit
//   patterns widened), loadBF16(p) (likewise bfloat16), broadcast(x), fma(a, b, c) = a·b + c,
//   add(a, b), mul(a, b), store(p, a) and sum(a) (horizontal), as attention_simd.h's V does;
//   Zero: a group's zero code as the decoders subtract it, built from an int;
//   codes<B>(p, zero): the kWidth codes of B bits from byte p as floats q - zero (exact);
//   codes32<B, NIBBLES>(row, c, zero, q): 32 codes from column c into 32 / kWidth vectors q[];
//     NIBBLES (4-bit, XOrder::Nibbles32): the 16 even columns, then the 16 odd ones;
//   kTileCols: activation rows per register block of gemmTile;
//   kMaskedTail: gemmTile's last cols % kWidth columns in one step of loadFirst(p, count)
//     (count < kWidth floats, the other lanes 0) rather than one column at a time;
//   kHasQ4Table: 4-bit rows with x in XOrder::Nibbles128 go to V::gemvRowQ4Table<NX>, which
//     has gemvRowQuant's signature.
//
// Each ISA keeps its own summation order: the generic loops step 4 vectors (4 · kWidth columns)
// at a time, then one 32-column block where that is less than 4 vectors (AVX-512: 64, 32, then
// 16 columns; AVX2: 32, then 8), and activation row i sums into U = accumulatorsPerRow(NX)
// registers, vector k of a step into register k % U.
//
// n <= kMaxGemvRows activation rows (generation, short prefill): one pass over each weight row,
// every weight decoded once and used for all n rows. Quantized (gemvRowQuant): codes → integers
// q - zero → float lanes (exact), FMA'd with x; each group's sum is scaled once. Float16 /
// bfloat16 / float32 (gemvRowFloat): widened / loaded and FMA'd. n > kMaxGemvRows (gemmRows):
// a tile of kTileRows weight rows dequantized exactly into floats, multiplied by kTileCols
// activation rows at a time with all sums in registers.
#pragma once

#include <immintrin.h>

#include "runtime/kernels_internal.h"

namespace slmc::runtime::detail {
namespace {

// Accumulators per activation row in the one-pass kernels: 4 FMA chains in flight.
constexpr int accumulatorsPerRow(int nx) { return nx == 1 ? 4 : nx == 2 ? 2 : 1; }

// Scales and zero codes of row r, unpacked (RowGrids). Both paths have F16C.
template <class V>
void loadRowGrids(const QuantMatrix& m, int64_t r, RowGrids& grids) {
  const int64_t groups = m.groups();
  const uint16_t* s = m.scales + r * groups;
  grids.scale.resize(static_cast<size_t>(groups));
  int64_t g = 0;
  for (; g + V::kWidth <= groups; g += V::kWidth) V::store(grids.scale.data() + g, V::loadF16(s + g));
  for (; g < groups; ++g) grids.scale[g] = _cvtsh_ss(s[g]);
  grids.loadZeros(m, r);
}

// ---------------------------------------------------------------------------------------------
// n <= kMaxGemvRows: one pass over a weight row.

// out[i] = W[r] · x[i] for NX activation rows, W quantized with B-bit codes.
template <class V, int NX, int B, bool NIBBLES>
void gemvRowQuant(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes, const Activations& a, float* out) {
  using Reg = typename V::Reg;
  constexpr int U = accumulatorsPerRow(NX);
  constexpr int64_t W = V::kWidth;
  constexpr int kBlock = static_cast<int>(32 / W);  // vectors per 32-column block of codes
  static_assert(4 % kBlock == 0, "a step of 4 vectors is whole 32-column blocks");
  const int64_t cols = m.cols, group_size = m.groupSize(), groups = m.groups();
  const float* x = a.x_ordered;  // in Nibbles32 order when NIBBLES
  Reg row_acc[NX];
  float row_tail[NX];
  for (int i = 0; i < NX; ++i) {
    row_acc[i] = V::zero();
    row_tail[i] = 0.0f;
  }
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    const int zero_code = grids.zero[g];
    const typename V::Zero zero(zero_code);
    Reg acc[NX][U];  // Σ (q - zero) x over the group
    float tail[NX];
    for (int i = 0; i < NX; ++i) {
      tail[i] = 0.0f;
      for (int u = 0; u < U; ++u) acc[i][u] = V::zero();
    }
    int64_t c = c0;
    if (c0 % 8 == 0) {  // codes start on a byte: SIMD
      for (; c + 4 * W <= c1; c += 4 * W) {
        Reg q[4];
        for (int b = 0; b < 4 / kBlock; ++b) V::template codes32<B, NIBBLES>(codes, c + 32 * b, zero, q + kBlock * b);
        for (int i = 0; i < NX; ++i) {
          const float* xi = x + i * cols + c;
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) acc[i][k % U] = V::fma(q[k], V::load(xi + k * W), acc[i][k % U]);
        }
      }
      if constexpr (4 * W > 32) {
        if (c + 32 <= c1) {  // e.g. the one block of a group of 32
          Reg q[kBlock];
          V::template codes32<B, NIBBLES>(codes, c, zero, q);
          for (int i = 0; i < NX; ++i) {
            const float* xi = x + i * cols + c;
            for (int k = 0; k < kBlock; ++k) acc[i][k % U] = V::fma(q[k], V::load(xi + k * W), acc[i][k % U]);
          }
          c += 32;
        }
      }
      // Past the last full 32-column block (x_ordered is in column order there).
      for (; c + W <= c1; c += W) {
        const Reg q = V::template codes<B>(codes + c * B / 8, zero);
        for (int i = 0; i < NX; ++i) acc[i][0] = V::fma(q, V::load(x + i * cols + c), acc[i][0]);
      }
    }
    for (; c < c1; ++c) {
      const float q = static_cast<float>(static_cast<int>(codeAt(codes, c, B)) - zero_code);
      for (int i = 0; i < NX; ++i) tail[i] += q * x[i * cols + c];
    }
    const float scale = grids.scale[g];
    const Reg scales = V::broadcast(scale);
#pragma GCC unroll 4
    for (int i = 0; i < NX; ++i) {
      Reg sum = acc[i][0];
      for (int u = 1; u < U; ++u) sum = V::add(sum, acc[i][u]);
      row_acc[i] = V::fma(sum, scales, row_acc[i]);
      row_tail[i] += scale * tail[i];
    }
  }
  for (int i = 0; i < NX; ++i) out[i] = V::sum(row_acc[i]) + row_tail[i];
}

// A float weight row: load(c) gives columns c..c+kWidth-1 as float32, at(c) column c.
template <class V>
struct F32Row {
  using Element = float;
  const float* w;
  typename V::Reg load(int64_t c) const { return V::load(w + c); }
  float at(int64_t c) const { return w[c]; }
};

template <class V>
struct F16Row {
  using Element = uint16_t;
  const uint16_t* w;
  typename V::Reg load(int64_t c) const { return V::loadF16(w + c); }
  float at(int64_t c) const { return _cvtsh_ss(w[c]); }
};

template <class V>
struct BF16Row {
  using Element = uint16_t;
  const uint16_t* w;
  typename V::Reg load(int64_t c) const { return V::loadBF16(w + c); }
  float at(int64_t c) const { return bf16ToF32(w[c]); }
};

// out[i] = W[r] · x[i] for NX activation rows, W float32, float16 or bfloat16.
template <class V, int NX, class Row>
void gemvRowFloat(const Row& row, int64_t cols, const float* x, float* out) {
  using Reg = typename V::Reg;
  constexpr int U = accumulatorsPerRow(NX);
  constexpr int64_t W = V::kWidth;
  Reg acc[NX][U];
  for (int i = 0; i < NX; ++i)
    for (int u = 0; u < U; ++u) acc[i][u] = V::zero();
  int64_t c = 0;
  for (; c + 4 * W <= cols; c += 4 * W) {
    const Reg w[4] = {row.load(c), row.load(c + W), row.load(c + 2 * W), row.load(c + 3 * W)};
    for (int i = 0; i < NX; ++i) {
      const float* xi = x + i * cols + c;
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) acc[i][k % U] = V::fma(w[k], V::load(xi + k * W), acc[i][k % U]);
    }
  }
  for (; c + W <= cols; c += W) {
    const Reg w0 = row.load(c);
    for (int i = 0; i < NX; ++i) acc[i][0] = V::fma(w0, V::load(x + i * cols + c), acc[i][0]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < NX; ++i) {
    Reg sum = acc[i][0];
    for (int u = 1; u < U; ++u) sum = V::add(sum, acc[i][u]);
    float total = V::sum(sum);
    for (int64_t k = c; k < cols; ++k) total += row.at(k) * x[i * cols + k];
    out[i] = total;
  }
}

// ---------------------------------------------------------------------------------------------
// n > kMaxGemvRows: tiles of weight rows dequantized into floats, then a register-blocked product.

// out[cols] = W[r] dequantized exactly: (q - zero) * scale.
template <class V, int B>
void dequantizeRowQuant(const QuantMatrix& m, int64_t r, const uint8_t* codes, float* out) {
  const int64_t group_size = m.groupSize();
  thread_local RowGrids grids;
  loadRowGrids<V>(m, r, grids);
  for (int64_t g = 0; g < m.groups(); ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    const float scale = grids.scale[g];
    const int zero_code = grids.zero[g];
    const typename V::Zero zero(zero_code);
    const typename V::Reg scales = V::broadcast(scale);
    int64_t c = c0;
    if (c0 % 8 == 0)
      for (; c + V::kWidth <= c1; c += V::kWidth)
        V::store(out + c, V::mul(V::template codes<B>(codes + c * B / 8, zero), scales));
    for (; c < c1; ++c) out[c] = static_cast<float>(static_cast<int>(codeAt(codes, c, B)) - zero_code) * scale;
  }
}

// out[cols] = a 16-bit float row (F16Row or BF16Row) widened to float32.
template <class V, class Row>
void widenRow(const Row& row, int64_t cols, float* out) {
  int64_t c = 0;
  for (; c + V::kWidth <= cols; c += V::kWidth) V::store(out + c, row.load(c));
  for (; c < cols; ++c) out[c] = row.at(c);
}

// y[j * y_stride + r] = w[r] · x[j] for TR weight rows and TX activation rows, all in registers.
template <class V, int TR, int TX>
void gemmTile(const float* const* w, const float* x, int64_t cols, float* y, int64_t y_stride) {
  using Reg = typename V::Reg;
  Reg acc[TR][TX];
  for (int r = 0; r < TR; ++r)
    for (int j = 0; j < TX; ++j) acc[r][j] = V::zero();
  const int64_t full = cols / V::kWidth * V::kWidth;
  for (int64_t c = 0; c < full; c += V::kWidth) {
    Reg xv[TX];
    for (int j = 0; j < TX; ++j) xv[j] = V::load(x + j * cols + c);
    for (int r = 0; r < TR; ++r) {
      const Reg wv = V::load(w[r] + c);
      for (int j = 0; j < TX; ++j) acc[r][j] = V::fma(wv, xv[j], acc[r][j]);
    }
  }
  if constexpr (V::kMaskedTail) {
    if (full < cols) {  // one more step, the lanes past the last column read as 0
      Reg xv[TX];
      for (int j = 0; j < TX; ++j) xv[j] = V::loadFirst(x + j * cols + full, cols - full);
      for (int r = 0; r < TR; ++r) {
        const Reg wv = V::loadFirst(w[r] + full, cols - full);
        for (int j = 0; j < TX; ++j) acc[r][j] = V::fma(wv, xv[j], acc[r][j]);
      }
    }
  }
  // Fully unrolled so that acc stays in registers (GCC otherwise keeps it on the stack).
#pragma GCC unroll 4
  for (int r = 0; r < TR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < TX; ++j) {
      float sum = V::sum(acc[r][j]);
      if constexpr (!V::kMaskedTail)
        for (int64_t c = full; c < cols; ++c) sum += w[r][c] * x[j * cols + c];
      y[j * y_stride + r] = sum;
    }
}

constexpr int kTileRows = 4;  // weight rows per tile

template <class V, int TR>
void gemmTileRows(const float* const* w, const float* x, int64_t n, int64_t cols, float* y, int64_t y_stride) {
  static_assert(V::kTileCols <= 4, "the switch below covers n % kTileCols < 4");
  int64_t i = 0;
  for (; i + V::kTileCols <= n; i += V::kTileCols)
    gemmTile<V, TR, V::kTileCols>(w, x + i * cols, cols, y + i * y_stride, y_stride);
  switch (n - i) {
    case 3:
      gemmTile<V, TR, 3>(w, x + i * cols, cols, y + i * y_stride, y_stride);
      break;
    case 2:
      gemmTile<V, TR, 2>(w, x + i * cols, cols, y + i * y_stride, y_stride);
      break;
    case 1:
      gemmTile<V, TR, 1>(w, x + i * cols, cols, y + i * y_stride, y_stride);
      break;
    default:
      break;
  }
}

// Weight row r as float32: a pointer into the matrix (F32) or into `buffer`, widened (F16,
// BF16) or dequantized (B-bit codes; B = 0 for float weights).
template <class V, int B>
const float* floatRow(const QuantMatrix& m, int64_t r, float* buffer, std::vector<uint8_t>& last_row_copy) {
  if constexpr (B == 0) {
    if (m.type == WeightType::F32) return m.f32 + r * m.cols;
    if (m.type == WeightType::BF16)
      widenRow<V>(BF16Row<V>{m.bf16 + r * m.cols}, m.cols, buffer);
    else
      widenRow<V>(F16Row<V>{m.f16 + r * m.cols}, m.cols, buffer);
  } else {
    dequantizeRowQuant<V, B>(m, r, paddedCodeRow(m, r, last_row_copy), buffer);
  }
  return buffer;
}

template <class V, int B>
void gemmRows(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local std::vector<float> tile;
  thread_local std::vector<uint8_t> last_row_copy;
  tile.resize(static_cast<size_t>(kTileRows * m.cols));
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTileRows) {
    const int tr = static_cast<int>(std::min<int64_t>(kTileRows, row_end - r0));
    const float* w[kTileRows];
    for (int t = 0; t < tr; ++t) w[t] = floatRow<V, B>(m, r0 + t, tile.data() + t * m.cols, last_row_copy);
    switch (tr) {
      case 4:
        gemmTileRows<V, 4>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      case 3:
        gemmTileRows<V, 3>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      case 2:
        gemmTileRows<V, 2>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
      default:
        gemmTileRows<V, 1>(w, a.x, a.n, m.cols, y + r0, m.rows);
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Drivers: one weight row at a time for n <= kMaxGemvRows.

// gemvRowQuant for the order matmul() put x in (gemvXOrder).
template <class V, int NX, int B>
void gemvRowQuantOrdered(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes, const Activations& a,
                         float* out) {
  if constexpr (V::kHasQ4Table && B == 4)
    if (a.order == XOrder::Nibbles128) return V::template gemvRowQ4Table<NX>(m, grids, codes, a, out);
  if (a.order == XOrder::Nibbles32) return gemvRowQuant<V, NX, B, true>(m, grids, codes, a, out);
  gemvRowQuant<V, NX, B, false>(m, grids, codes, a, out);
}

template <class V, int NX, int B>
void gemvRowsQuant(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local std::vector<uint8_t> last_row_copy;
  thread_local RowGrids grids;
  float out[NX];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* codes = paddedCodeRow(m, r, last_row_copy);
    loadRowGrids<V>(m, r, grids);
    gemvRowQuantOrdered<V, NX, B>(m, grids, codes, a, out);
    for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
  }
}

template <class V, int NX, class Row>
void gemvRowsFloat(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end,
                   const typename Row::Element* values) {
  float out[NX];
  for (int64_t r = row_begin; r < row_end; ++r) {
    gemvRowFloat<V, NX>(Row{values + r * m.cols}, m.cols, a.x, out);
    for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
  }
}

template <class V, int NX>
void gemvRows(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  switch (m.type) {
    case WeightType::F32:
      return gemvRowsFloat<V, NX, F32Row<V>>(m, a, y, row_begin, row_end, m.f32);
    case WeightType::F16:
      return gemvRowsFloat<V, NX, F16Row<V>>(m, a, y, row_begin, row_end, m.f16);
    case WeightType::BF16:
      return gemvRowsFloat<V, NX, BF16Row<V>>(m, a, y, row_begin, row_end, m.bf16);
    case WeightType::Q2:
      return gemvRowsQuant<V, NX, 2>(m, a, y, row_begin, row_end);
    case WeightType::Q3:
      return gemvRowsQuant<V, NX, 3>(m, a, y, row_begin, row_end);
    case WeightType::Q4:
      return gemvRowsQuant<V, NX, 4>(m, a, y, row_begin, row_end);
    case WeightType::Q5:
      return gemvRowsQuant<V, NX, 5>(m, a, y, row_begin, row_end);
    case WeightType::Q6:
      return gemvRowsQuant<V, NX, 6>(m, a, y, row_begin, row_end);
    case WeightType::Q8:
      return gemvRowsQuant<V, NX, 8>(m, a, y, row_begin, row_end);
  }
}

// One path's matmulRows (kernels_internal.h's MatmulRowsFn).
template <class V>
void matmulRowsSimd(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  static_assert(kMaxGemvRows == 4, "the switch below covers n <= kMaxGemvRows");
  switch (a.n) {
    case 1:
      return gemvRows<V, 1>(m, a, y, row_begin, row_end);
    case 2:
      return gemvRows<V, 2>(m, a, y, row_begin, row_end);
    case 3:
      return gemvRows<V, 3>(m, a, y, row_begin, row_end);
    case 4:
      return gemvRows<V, 4>(m, a, y, row_begin, row_end);
    default:
      break;
  }
  switch (m.type) {
    case WeightType::Q2:
      return gemmRows<V, 2>(m, a, y, row_begin, row_end);
    case WeightType::Q3:
      return gemmRows<V, 3>(m, a, y, row_begin, row_end);
    case WeightType::Q4:
      return gemmRows<V, 4>(m, a, y, row_begin, row_end);
    case WeightType::Q5:
      return gemmRows<V, 5>(m, a, y, row_begin, row_end);
    case WeightType::Q6:
      return gemmRows<V, 6>(m, a, y, row_begin, row_end);
    case WeightType::Q8:
      return gemmRows<V, 8>(m, a, y, row_begin, row_end);
    default:
      return gemmRows<V, 0>(m, a, y, row_begin, row_end);  // float weights: no codes
  }
}

}  // namespace
}  // namespace slmc::runtime::detail
