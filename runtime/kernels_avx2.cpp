// The AVX2 path (AVX2 + FMA + F16C; only called when the CPU has them): matmul_simd.h's loops
// over Avx2Ops, eight float lanes per register. The file is compiled for baseline x86-64 and
// only what follows the `#pragma GCC target` below is compiled for AVX2: the inline functions
// of kernels_internal.h and of the standard library that this file instantiates are weak
// symbols the linker may pick for the scalar path too, so they must not contain AVX code.
//
// Decoding (Avx2Ops::codes, codes32):
//   4-bit: 16 bytes → low nibbles (even columns) and high nibbles (odd columns), zero
//          subtracted on bytes, widened 8 at a time; x was reordered to match
//          (XOrder::Nibbles32);
//   8-bit: 8 bytes widened;
//   2/3-bit: the 32-bit word holding 8 codes broadcast, lane k shifted right by k*bits;
//   5/6-bit: the 8 bytes holding 8 codes broadcast, lane k gets the two bytes holding code k
//            (vpshufb) and is shifted right by (k*bits) % 8.
//   float16: vcvtph2ps; bfloat16: widened to 32 bits and shifted up.
// n > 4: 3 activation rows per register block (4 x 3 accumulators + 4 loads = 16 registers);
// the last cols % 8 columns one at a time.
#include <immintrin.h>

#include "runtime/kernels_internal.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "runtime/matmul_simd.h"

namespace slmc::runtime::detail {

namespace {

struct Avx2Ops {
  static constexpr int64_t kWidth = 8;
  static constexpr int kTileCols = 3;
  static constexpr bool kMaskedTail = false;
  static constexpr bool kHasQ4Table = false;
  using Reg = __m256;

  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg loadF16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  // bfloat16 is a float32's top half: widened to 32 bits and shifted up, exactly.
  static Reg loadBF16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static Reg broadcast(float x) { return _mm256_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static void store(float* p, Reg a) { _mm256_storeu_ps(p, a); }
  static float sum(Reg a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // Decoding codes into float lanes (unscaled). Loads may read past the codes they use, at
  // most 3 bytes (kCodeOverRead, paddedCodeRow).

  // A group's zero code, as the decoders subtract it: int32 lanes, and int8 lanes for nibbles.
  struct Zero {
    __m256i lanes32;
    __m128i lanes8;
    explicit Zero(int zero) : lanes32(_mm256_set1_epi32(zero)), lanes8(_mm_set1_epi8(static_cast<char>(zero))) {}
  };

  // The vpshufb control for codes<B> with B > 4: 32-bit lane k = bytes k*B/8 and k*B/8 + 1 of
  // the 8 loaded (the high two bytes zeroed), in each 128-bit half.
  template <int B>
  static __m256i bytePairs() {
    const auto low = [](int k) { return static_cast<char>(k * B / 8); };
    const auto high = [](int k) { return static_cast<char>(k * B / 8 + 1); };
    constexpr char kNone = static_cast<char>(0x80);
    return _mm256_setr_epi8(low(0), high(0), kNone, kNone, low(1), high(1), kNone, kNone, low(2), high(2), kNone, kNone,
                            low(3), high(3), kNone, kNone,  // lanes 0-3: the lower 128-bit half
                            low(4), high(4), kNone, kNone, low(5), high(5), kNone, kNone, low(6), high(6), kNone, kNone,
                            low(7), high(7), kNone, kNone);  // lanes 4-7
  }

  // 8 codes of B bits starting on byte p, in column order, as floats q - zero (exact). Reads 4
  // bytes (B <= 4) or 8 (B > 4).
  template <int B>
  static Reg codes(const uint8_t* p, const Zero& zero) {
    __m256i ints;
    if constexpr (B == 8) {
      ints = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (8 * B > 32) {
      // 5/6-bit: 8 codes span B > 4 bytes, past one 32-bit word. Lane k takes the two bytes
      // holding code k (bit k*B lies in byte k*B/8; (k*B)%8 + B <= 16) from the 8 bytes
      // broadcast to both 128-bit halves, then shifts by (k*B)%8.
      const __m256i bytes = _mm256_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
      const __m256i words = _mm256_shuffle_epi8(bytes, bytePairs<B>());
      const __m256i shifts = _mm256_setr_epi32(0, B % 8, 2 * B % 8, 3 * B % 8, 4 * B % 8, 5 * B % 8, 6 * B % 8,
                                               7 * B % 8);
      ints = _mm256_and_si256(_mm256_srlv_epi32(words, shifts), _mm256_set1_epi32((1 << B) - 1));
    } else {
      uint32_t word;
      std::memcpy(&word, p, sizeof word);
      const __m256i shifts = _mm256_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B);
      ints = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts),
                              _mm256_set1_epi32((1 << B) - 1));
    }
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(ints, zero.lanes32));
  }

  // 32 codes from column c (a multiple of 8; of 32 when NIBBLES) of a packed row, as q - zero
  // into q[0..3]. NIBBLES (4-bit only): q[0], q[1] = the 16 even columns, q[2], q[3] = the 16
  // odd ones; q - zero is taken on bytes (|q - zero| < 16) and sign-extended.
  template <int B, bool NIBBLES>
  static void codes32(const uint8_t* row, int64_t c, const Zero& zero, Reg* q) {
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
      for (int k = 0; k < 4; ++k) q[k] = codes<B>(row + (c + 8 * k) * B / 8, zero);
    }
  }
};

}  // namespace

void matmulRowsAvx2(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  matmulRowsSimd<Avx2Ops>(m, a, y, row_begin, row_end);
}

}  // namespace slmc::runtime::detail

#pragma GCC pop_options
