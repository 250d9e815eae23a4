// What the kernel files share: the per-path entry points that kernels.cpp dispatches to, and
// the scalar helpers every path uses for scales, zeros and the odd columns SIMD leaves over.
// Not part of the runtime's API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime/kernels.h"

namespace slmc::runtime::detail {

// n <= kMaxGemvRows activation rows: the SIMD paths make one pass over each weight row and use
// each decoded weight for every activation row. More rows: tiles of dequantized weight rows.
constexpr int64_t kMaxGemvRows = 4;

// The column order the SIMD 4-bit kernels read x in. Their decoders yield codes in the order the
// bytes hold them, so matmul() reorders x once per call to match instead of the codes of every
// row. Only full blocks are reordered; the columns after the last full block stay in place.
enum class XOrder : uint8_t {
  Natural,
  // Each 32-column block as columns 0,2,...,30, 1,3,...,31: the low, then the high nibbles of
  // its 16 bytes.
  Nibbles32,
  // Each 128-column block as columns 0,8,...,120, 1,9,...,121, ..., 7,15,...,127: nibble k of
  // each of its 16 little-endian 32-bit words, for k = 0..7.
  Nibbles128,
  // Each 128-column block as columns 0,2,...,126, 1,3,...,127: the low, then the high nibbles
  // of its 64 bytes (matmulInt8's 4-bit kernel: one 512-bit load of codes, one AND and one
  // shift give both halves); the 32-column blocks after the last full 128-column block as
  // Nibbles32.
  LowHigh128,
};

// The order the `isa` path's kernel for `w` reads x in, for n <= kMaxGemvRows.
inline XOrder gemvXOrder(Isa isa, const QuantMatrix& w) {
  if (isa == Isa::Scalar || w.type != WeightType::Q4) return XOrder::Natural;
  const int64_t group_size = w.groupSize();
  const bool one_group = w.groups() == 1;  // per-channel: any length, blocks from column 0
  if (isa == Isa::Avx512 && w.cols >= 128 && (group_size % 128 == 0 || one_group)) return XOrder::Nibbles128;
  if (w.cols >= 32 && (group_size % 32 == 0 || one_group)) return XOrder::Nibbles32;
  return XOrder::Natural;
}

// What matmul() prepares once per call, shared by every thread.
struct Activations {
  const float* x = nullptr;  // [n, cols]
  int64_t n = 0;
  XOrder order = XOrder::Natural;
  const float* x_ordered = nullptr;  // [n, cols]: x in `order` (x itself when Natural)

  // matmulInt8 only (kInt8Block-column blocks b, d_b = max |x| over block b / 127; groups are
  // whole blocks). ActivationCode::Int8: x ≈ d_b xq; Int8x2: x ≈ d_b (xq + xq_lo / 256), which
  // the kernel sums as (d_b / 256) (256 Σ q xq + Σ q xq_lo), exactly in int32.
  const int8_t* xq = nullptr;     // [n, cols]: round(x / d_b), in `order`
  const int8_t* xq_lo = nullptr;  // Int8x2 only, [n, cols]: round(256 (x / d_b - xq)), in `order`
  // [n, cols / int8LaneColumns(w.type)]: the factor of the block that 32-bit dot-product lane l
  // covers (d_b; Int8x2: d_b / 256), so that one vector multiply scales the 16 lanes of a chunk
  // (see below).
  const float* xq_lane_scale = nullptr;
  const float* xq_group_sum = nullptr;  // [n, groups]: Σ_{c in group} of x as coded (zero points)
};

constexpr int64_t kInt8Block = 32;

// matmulInt8's kernel reads a row in chunks of one 512-bit load of codes: 128 columns of 4-bit
// codes (x in XOrder::LowHigh128), 64 of 8-bit ones (x in column order). vpdpbusd sums the
// products of 4 adjacent bytes into each of 16 32-bit lanes, so lane l of a chunk's dot product
// covers int8LaneColumns() consecutive columns (4-bit: its low- and its high-nibble halves),
// always inside one 32-column block. Columns after the last full chunk go by 32-column blocks.
inline int64_t int8ChunkColumns(WeightType type) { return type == WeightType::Q4 ? 128 : 64; }
inline int64_t int8LaneColumns(WeightType type) { return int8ChunkColumns(type) / 16; }
inline XOrder int8XOrder(WeightType type) { return type == WeightType::Q4 ? XOrder::LowHigh128 : XOrder::Natural; }

// The groups matmulInt8's kernel handles: whole 32-column blocks that either fill whole chunks
// (one scale per chunk), or split a chunk evenly (32 or 64 columns: each lane picks its group's
// scale), or are one group per row (per-channel).
inline bool int8GroupsSupported(const QuantMatrix& w) {
  const int64_t group_size = w.groupSize(), chunk = int8ChunkColumns(w.type);
  if (group_size % kInt8Block != 0) return false;
  return w.groups() == 1 || group_size % chunk == 0 || chunk % group_size == 0;
}

// One path's matmul over weight rows [row_begin, row_end) for all activation rows: writes
// y[i * w.rows + r] for i < n, row_begin <= r < row_end. Called from one thread per row range.
using MatmulRowsFn = void (*)(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end);
void matmulRowsScalar(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end);
void matmulRowsAvx2(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end);
void matmulRowsAvx512(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end);
// matmulInt8's kernel (kernels_avx512_vnni.cpp): Q4/Q8 with int8GroupsSupported groups,
// n <= kMaxGemvRows, uses xq* (Int8x2 when xq_lo is set).
void matmulRowsInt8Vnni(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end);
// Its preparation, once per call and activation row x[w.cols]: xq[w.cols] (in int8XOrder),
// xq_lo[w.cols] likewise (nullptr: ActivationCode::Int8, one digit), lane_scale[w.cols /
// int8LaneColumns] and group_sum[w.groups()] as Activations describes them.
void quantizeInt8Vnni(const QuantMatrix& w, const float* x, int8_t* xq, int8_t* xq_lo, float* lane_scale,
                      float* group_sum);
// out[cols] = row r of W as floats (portable; dequantizeRow's implementation).
void dequantizeRowScalar(const QuantMatrix& w, int64_t r, float* out);

// IEEE float16 bit pattern → float32 (exact; subnormals, infinities and NaN included).
inline float f16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | mantissa << 13;
  } else if (exponent != 0) {
    bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: shift the leading 1 up to the implicit position
    uint32_t e = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | e << 23 | (mantissa & 0x3ffu) << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// bfloat16 bit pattern → float32 (exact: it is the float's top half).
inline float bf16ToF32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Code `c` of a packed row (LSB-first bit stream). Reads only the bytes the code occupies.
inline unsigned codeAt(const uint8_t* row, int64_t c, int bits) {
  const int64_t bit = c * bits;
  unsigned word = row[bit / 8];
  if (bit % 8 + bits > 8) word |= static_cast<unsigned>(row[bit / 8 + 1]) << 8;
  return (word >> (bit % 8)) & ((1u << bits) - 1);
}

// codes[k] = code k of a packed row, k < count. 8 codes of B bits fill B whole bytes; reads
// no byte past the codes.
template <int B, class T>
inline void unpackCodes(const uint8_t* packed, int64_t count, T* codes) {
  int64_t k = 0;
  for (; k + 8 <= count; k += 8, packed += B) {
    uint64_t word = 0;
    std::memcpy(&word, packed, B);  // little-endian: code j is bits [j*B, j*B + B)
    for (int j = 0; j < 8; ++j) codes[k + j] = static_cast<T>((word >> (j * B)) & ((1u << B) - 1));
  }
  for (int64_t j = 0; k < count; ++k, ++j) codes[k] = static_cast<T>(codeAt(packed, j, B));
}

template <class T>
inline void unpackCodes(const uint8_t* packed, int64_t count, int bits, T* codes) {
  switch (bits) {
    case 2:
      return unpackCodes<2>(packed, count, codes);
    case 3:
      return unpackCodes<3>(packed, count, codes);
    case 4:
      return unpackCodes<4>(packed, count, codes);
    case 5:
      return unpackCodes<5>(packed, count, codes);
    case 6:
      return unpackCodes<6>(packed, count, codes);
    case 8:
      return unpackCodes<8>(packed, count, codes);
    default:
      // A width without a fast path (a new row of weight_type.h): correct, one code at a time.
      for (int64_t k = 0; k < count; ++k) codes[k] = static_cast<T>(codeAt(packed, k, bits));
  }
}

// The grids of one row of a quantized matrix, unpacked once per row so that a kernel's group
// loop only loads two numbers: scale[g] (each path converts the float16 scales its own way,
// then calls loadZeros) and zero[g].
struct RowGrids {
  std::vector<float> scale;
  std::vector<int32_t> zero;

  void loadZeros(const QuantMatrix& w, int64_t r) {
    const int64_t groups = w.groups();
    const int bits = w.bits();
    zero.resize(static_cast<size_t>(groups));
    if (w.symmetric)
      std::fill(zero.begin(), zero.end(), 1 << (bits - 1));
    else
      unpackCodes(w.zeros + r * codeRowBytes(groups, bits), groups, bits, zero.data());
  }
};

// Columns per group as the kernels walk a row: float matrices are one group.
inline int64_t kernelGroupSize(const QuantMatrix& w) { return weightTypeTraits(w.type).quantized ? w.groupSize() : w.cols; }

// SIMD code loads read at most this many bytes past the last code byte they use. Inside the
// matrix that lands in the next row (every row is at least one SIMD chunk long when a chunk is
// loaded); the last row is decoded from a zero-padded copy instead, so no load leaves the
// caller's buffer.
constexpr int64_t kCodeOverRead = 16;
inline const uint8_t* paddedCodeRow(const QuantMatrix& w, int64_t r, std::vector<uint8_t>& copy) {
  const int64_t bytes = codeRowBytes(w.cols, w.bits());
  const uint8_t* row = w.codes + r * bytes;
  if (r + 1 < w.rows) return row;
  copy.assign(static_cast<size_t>(bytes + kCodeOverRead), 0);
  std::memcpy(copy.data(), row, static_cast<size_t>(bytes));
  return copy.data();
}

}  // namespace slmc::runtime::detail
