// The AVX-512 path (F, BW, VL, with AVX2, FMA and F16C; only called when the CPU has them):
// matmul_simd.h's loops over Avx512Ops, sixteen float lanes per register. The file is compiled
// for baseline x86-64 and only what follows the `#pragma GCC target` below is compiled for
// AVX-512: the inline functions of kernels_internal.h and of the standard library that this file
// instantiates are weak symbols the linker may pick for the other paths too, so they must not
// contain AVX-512 code.
//
// Decoding:
//   4-bit, groups of a multiple of 128 (Avx512Ops::gemvRowQ4Table, this file's own kernel):
//     every 32-bit word of codes looked up 8 times in the group's 16-entry table of dequantized
//     values (vpermps uses an index's low 4 bits); x was reordered to match (XOrder::Nibbles128).
//   other quantized (Avx512Ops::codes, codes32):
//     4-bit: 16 bytes → low nibbles (even columns) and high nibbles (odd columns), zero
//            subtracted on bytes, widened; x was reordered to match (XOrder::Nibbles32);
//     8-bit: 16 bytes widened;
//     2/3-bit: the 8 bytes holding 16 codes broadcast, codes 0-7's 32-bit word shuffled into
//              lanes 0-7 and codes 8-15's into lanes 8-15, lane k shifted right by (k%8)*bits.
//     5/6-bit: the 16 bytes holding 16 codes broadcast, lane k gets the two bytes holding code
//              k (vpshufb) and is shifted right by (k*bits) % 8.
//   float16: vcvtph2ps; bfloat16: widened to 32 bits and shifted up.
// n > 4: 4 activation rows per register block (4 x 4 accumulators); masked loads for the last
// cols % 16 columns.
#include "runtime/avx512_intrinsics.h"

#include "runtime/kernels_internal.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")

#include "runtime/matmul_simd.h"

namespace slmc::runtime::detail {

namespace {

struct Avx512Ops {
  static constexpr int64_t kWidth = 16;
  static constexpr int kTileCols = 4;
  static constexpr bool kMaskedTail = true;
  static constexpr bool kHasQ4Table = true;
  using Reg = __m512;

  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  // The first `count` (< 16) floats at p, the other lanes 0; reads nothing past them.
  static Reg loadFirst(const float* p, int64_t count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
  }
  static Reg loadF16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // bfloat16 is a float32's top half: widened to 32 bits and shifted up, exactly. (AVX-512
  // BF16's vdpbf16ps would need x rounded to bfloat16 too, an error of up to 2^-9 per product
  // that the exact path does not make; a row is memory-bound either way.)
  static Reg loadBF16(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static Reg broadcast(float x) { return _mm512_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static void store(float* p, Reg a) { _mm512_storeu_ps(p, a); }
  static float sum(Reg a) { return _mm512_reduce_add_ps(a); }

  // Decoding codes into float lanes (unscaled). Loads may read past the codes they use, at
  // most 6 bytes (kCodeOverRead, paddedCodeRow).

  // A group's zero code, as the decoders subtract it: int32 lanes, and int8 lanes for nibbles.
  struct Zero {
    __m512i lanes32;
    __m128i lanes8;
    explicit Zero(int zero) : lanes32(_mm512_set1_epi32(zero)), lanes8(_mm_set1_epi8(static_cast<char>(zero))) {}
  };

  // The vpshufb control for codes<B> with B > 4: 32-bit lane k = bytes k*B/8 and k*B/8 + 1 of
  // the 16 loaded (the high two bytes zeroed). Built as 32-bit lanes (vpshufb indexes within
  // each 128-bit lane, which holds all 16 bytes).
  template <int B>
  static __m512i bytePairs() {
    const auto pair = [](unsigned k) { return static_cast<int>(0x80800000u | (k * B / 8 + 1) << 8 | k * B / 8); };
    return _mm512_setr_epi32(pair(0), pair(1), pair(2), pair(3), pair(4), pair(5), pair(6), pair(7), pair(8), pair(9),
                             pair(10), pair(11), pair(12), pair(13), pair(14), pair(15));
  }

  // 16 codes of B bits starting on byte p, in column order, as floats q - zero (exact). Reads 8
  // bytes (B <= 4) or 16 (B > 4).
  template <int B>
  static Reg codes(const uint8_t* p, const Zero& zero) {
    __m512i ints;
    if constexpr (B == 8) {
      ints = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (8 * B > 32) {
      // 5/6-bit: 16 codes span 2B > 8 bytes. Lane k takes the two bytes holding code k (bit k*B
      // lies in byte k*B/8 <= 11; (k*B)%8 + B <= 16) from the 16 bytes broadcast to every
      // 128-bit lane, then shifts by (k*B)%8.
      const __m512i bytes = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      const __m512i words = _mm512_shuffle_epi8(bytes, bytePairs<B>());
      const __m512i shifts = _mm512_setr_epi32(0, B % 8, 2 * B % 8, 3 * B % 8, 4 * B % 8, 5 * B % 8, 6 * B % 8,
                                               7 * B % 8, 8 * B % 8, 9 * B % 8, 10 * B % 8, 11 * B % 8, 12 * B % 8,
                                               13 * B % 8, 14 * B % 8, 15 * B % 8);
      ints = _mm512_and_si512(_mm512_srlv_epi32(words, shifts), _mm512_set1_epi32((1 << B) - 1));
    } else {
      int64_t word;
      std::memcpy(&word, p, sizeof word);
      // Codes 0-7 are the 32-bit word at byte 0, codes 8-15 the one at byte B.
      const __m512i pick = _mm512_set_epi8(B + 3, B + 2, B + 1, B, B + 3, B + 2, B + 1, B, B + 3, B + 2, B + 1, B,
                                           B + 3, B + 2, B + 1, B,  // 128-bit lane 3
                                           B + 3, B + 2, B + 1, B, B + 3, B + 2, B + 1, B, B + 3, B + 2, B + 1, B,
                                           B + 3, B + 2, B + 1, B,                           // lane 2
                                           3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0,   // lane 1
                                           3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);  // lane 0
      const __m512i shifts = _mm512_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B, 0, B, 2 * B, 3 * B,
                                               4 * B, 5 * B, 6 * B, 7 * B);
      const __m512i words = _mm512_shuffle_epi8(_mm512_set1_epi64(word), pick);
      ints = _mm512_and_si512(_mm512_srlv_epi32(words, shifts), _mm512_set1_epi32((1 << B) - 1));
    }
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(ints, zero.lanes32));
  }

  // 32 codes from column c (a multiple of 8; of 32 when NIBBLES) of a packed row, as q - zero
  // into q[0], q[1]. NIBBLES (4-bit only): q[0] = the 16 even columns, q[1] = the 16 odd ones;
  // q - zero is taken on bytes (|q - zero| < 16) and sign-extended.
  template <int B, bool NIBBLES>
  static void codes32(const uint8_t* row, int64_t c, const Zero& zero, Reg* q) {
    if constexpr (NIBBLES) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2));
      const __m128i low4 = _mm_set1_epi8(0x0F);
      const __m128i even = _mm_sub_epi8(_mm_and_si128(bytes, low4), zero.lanes8);
      const __m128i odd = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4), zero.lanes8);
      q[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(even));
      q[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(odd));
    } else {
      q[0] = codes<B>(row + c * B / 8, zero);
      q[1] = codes<B>(row + (c + 16) * B / 8, zero);
    }
  }

  template <int NX>
  static void gemvRowQ4Table(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes, const Activations& a,
                             float* out);
};

// out[i] = W[r] · x[i] for NX activation rows, W 4-bit with groups of a multiple of 128 columns
// (or one group per row), x in XOrder::Nibbles128. A 128-column block is 64 bytes = 16 words
// of 8 codes; vpermps looks each word's low 4 bits up in the group's 16-entry table of
// dequantized values (q - zero) * scale (exact), so nibble k of all 16 words becomes 16
// weights in one instruction after a shift by 4k. No conversion, no per-group reduction.
template <int NX>
void Avx512Ops::gemvRowQ4Table(const QuantMatrix& m, const RowGrids& grids, const uint8_t* codes,
                               const Activations& a, float* out) {
  constexpr int U = accumulatorsPerRow(NX);
  const int64_t cols = m.cols, group_size = m.groupSize(), groups = m.groups();
  const float* x = a.x_ordered;
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512 acc[NX][U];
  float tail[NX];
  for (int i = 0; i < NX; ++i) {
    tail[i] = 0.0f;
    for (int u = 0; u < U; ++u) acc[i][u] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t c0 = g * group_size, c1 = c0 + group_size;
    const float scale = grids.scale[g];
    const int zero_code = grids.zero[g];
    const __m512 table =
        _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(static_cast<float>(zero_code))), _mm512_set1_ps(scale));
    int64_t c = c0;
    for (; c + 128 <= c1; c += 128) {
      const __m512i words = _mm512_loadu_si512(codes + c / 2);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m512 w = _mm512_permutexvar_ps(_mm512_srli_epi32(words, 4 * k), table);
        for (int i = 0; i < NX; ++i)
          acc[i][k % U] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + i * cols + c + 16 * k), acc[i][k % U]);
      }
    }
    // One group per row whose length is no multiple of 128: the rest in column order.
    const Zero zero(zero_code);
    const __m512 scale16 = _mm512_set1_ps(scale);
    for (; c + 16 <= c1; c += 16) {
      const __m512 w = _mm512_mul_ps(Avx512Ops::codes<4>(codes + c / 2, zero), scale16);
      for (int i = 0; i < NX; ++i) acc[i][0] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + i * cols + c), acc[i][0]);
    }
    for (; c < c1; ++c) {
      const float w = static_cast<float>(static_cast<int>(codeAt(codes, c, 4)) - zero_code) * scale;
      for (int i = 0; i < NX; ++i) tail[i] += w * x[i * cols + c];
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NX; ++i) {
    __m512 sum = acc[i][0];
    for (int u = 1; u < U; ++u) sum = _mm512_add_ps(sum, acc[i][u]);
    out[i] = _mm512_reduce_add_ps(sum) + tail[i];
  }
}

}  // namespace

void matmulRowsAvx512(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  matmulRowsSimd<Avx512Ops>(m, a, y, row_begin, row_end);
}

}  // namespace slmc::runtime::detail

#pragma GCC pop_options
