// matmulInt8's kernel: 4- and 8-bit codes times int8 activations with AVX-512 VNNI (F, BW, VL,
// VNNI, with AVX2, FMA and F16C, enabled by the `#pragma GCC target` after the includes, as in
// kernels_avx512.cpp; only called when the CPU has them), and its preparation of the activations. For a group g of 32-column blocks b
// (codes q, zero z, scale s; activations xq = round(x / d_b), quantizeInt8Vnni below):
//   Σ_c (q_c - z) s x_c  ≈  s Σ_b d_b Σ_{c in b} q_c xq_c  -  s z Σ_b d_b Σ_{c in b} xq_c
// With two digits (ActivationCode::Int8x2: x ≈ d_b (xq + xq_lo / 256)) the first term's inner
// sum becomes (1 / 256) (256 Σ q xq + Σ q xq_lo): each lane's Σ q xq is shifted left by 8 and
// the lane then accumulates Σ q xq_lo on top, exact in int32 (|value| < 2^26), and the 1 / 256
// is folded into the lane's d_b; the zero-point sums are those of the two-digit x. So Int8x2
// costs one shift and a second vpdpbusd (and a second load of activations from L1) per
// vpdpbusd of Int8, and nothing more per chunk.
//
// The first term is where the time goes. A row is read in chunks of one 512-bit load of codes
// (kernels_internal.h: 128 columns of 4-bit codes, split into low and high nibbles by one AND
// and one shift; 64 columns of 8-bit codes as they are); vpdpbusd multiplies the unsigned codes
// by the signed xq, 4 products into each of 16 int32 lanes, each lane inside one block. The
// lanes are converted to float once per chunk and multiplied by d_b per lane
// (Activations::xq_lane_scale); s is applied once per group when groups are whole chunks, or per
// lane (each lane's group's scale, picked by a permute) for groups of 32 or 64 columns. The
// zero-point term was summed per group when x was quantized (Activations::xq_group_sum): for
// symmetric codes (z the same everywhere) it is the starting value of the sums that meet each
// group's scale (zeroInit), so it costs nothing per row; for asymmetric codes one vector FMA per
// 16 groups of a row (zeroTerms).
//
// Measured on one core, 4-bit codes in groups of 128, two digits, matmul of 1024 x 1024 and
// 1024 x 4096 matrices held in cache: starting the sums at the zero-point term, one pass per chunk
// for one-chunk groups and one set of shuffles for 4 rows' horizontal sums took 1024-column rows
// from 19.9 to 24.7 GB/s and 4096-column rows from 27.3 to 30.2 GB/s.
//
// So a 128-column chunk of 4-bit codes costs 3 integer ops to decode, then per activation row 2
// vpdpbusd, a conversion and one or two FMAs: about a quarter of the exact float path's work
// per weight. Weight rows go in tiles (gemvTileInt8) that share each chunk of xq and its scales,
// with the codes prefetched ahead; together that keeps one core at memory speed.
//
// Loads read only the codes, scales and zeros of the rows they work on (masked loads for the
// last scales and zeros), so no padded copy of the last row is needed.
#include "runtime/avx512_intrinsics.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/kernels_internal.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")

namespace slmc::runtime::detail {

namespace {

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[j] = the sum of v[j]'s 16 lanes, j < N. Four vectors at a time share their shuffles
// (a tile's rows end together): 12 shuffles and adds for 4 sums instead of 4 × 8.
template <int N>
inline void hsums(const __m512* v, float* out) {
  int j = 0;
  for (; j + 4 <= N; j += 4) {
    // Halves: lanes 0-7 of s01 are v0's pairwise sums, 8-15 v1's; likewise s23.
    const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(v[j], v[j + 1], 0x44), _mm512_shuffle_f32x4(v[j], v[j + 1], 0xEE));
    const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(v[j + 2], v[j + 3], 0x44), _mm512_shuffle_f32x4(v[j + 2], v[j + 3], 0xEE));
    // Quarters: 128-bit lane q of s holds vector j + q's four partial sums.
    const __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
    // Within each 128-bit lane: [a b c d] → a + b + c + d in every position.
    const __m512 pairs = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));
    const __m512 total = _mm512_add_ps(pairs, _mm512_permute_ps(pairs, 0xB1));
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, total);
    for (int q = 0; q < 4; ++q) out[j + q] = lanes[4 * q];
  }
  for (; j < N; ++j) out[j] = hsum(v[j]);
}

inline __mmask16 firstLanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}

// ---------------------------------------------------------------------------------------------
// Dot products of codes with xq, per 32-bit lane.

// Σ q·xq per lane over one chunk (`codes` at its first byte, `xq` at its first column; SPLIT:
// 256 Σ q·xq + Σ q·xq_lo, `lo` at the chunk's first column of xq_lo): 4-bit codes' low nibbles
// meet x[0, 64) and their high nibbles x[64, 128) (XOrder::LowHigh128).
template <int B, bool SPLIT>
inline __m512 chunkDot(const uint8_t* codes, const int8_t* xq, const int8_t* lo) {
  if constexpr (B == 4) {
    const __m512i bytes = _mm512_loadu_si512(codes);
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i low = _mm512_and_si512(bytes, low4), high = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
    __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low, _mm512_loadu_si512(xq));
    sum = _mm512_dpbusd_epi32(sum, high, _mm512_loadu_si512(xq + 64));
    if constexpr (SPLIT) {
      sum = _mm512_dpbusd_epi32(_mm512_slli_epi32(sum, 8), low, _mm512_loadu_si512(lo));
      sum = _mm512_dpbusd_epi32(sum, high, _mm512_loadu_si512(lo + 64));
    }
    return _mm512_cvtepi32_ps(sum);
  } else {
    const __m512i q = _mm512_loadu_si512(codes);
    __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(xq));
    if constexpr (SPLIT) sum = _mm512_dpbusd_epi32(_mm512_slli_epi32(sum, 8), q, _mm512_loadu_si512(lo));
    return _mm512_cvtepi32_ps(sum);
  }
}

// The same for the 32-column block at column c of a row, after the last full chunk (4-bit:
// XOrder::Nibbles32; `xq` and `lo` at column c). Reads only the block's own code bytes.
template <int B, bool SPLIT>
inline __m256 blockDot(const uint8_t* row, int64_t c, const int8_t* xq, const int8_t* lo) {
  __m256i codes;
  if constexpr (B == 4) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m128i low = _mm_and_si128(bytes, low4), high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
    codes = _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
  } else {
    codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
  }
  // No lambda for the loads: one returning __m256 trips GCC 12's -Wpsabi under #pragma GCC target.
  __m256i sum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
  if constexpr (SPLIT)
    sum = _mm256_dpbusd_epi32(_mm256_slli_epi32(sum, 8), codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo)));
  return _mm256_cvtepi32_ps(sum);
}

// ---------------------------------------------------------------------------------------------
// Scales and zeros.

// Groups 16k .. 16k + 15 of a row's zero codes (packed like the codes), as floats; only the
// bytes of the first `count` are read.
template <int B>
inline __m512 zeros16(const uint8_t* zero_row, int64_t g, int64_t count) {
  if constexpr (B == 4) {
    const __m128i bytes = _mm_maskz_loadu_epi8(firstLanes((count + 1) / 2), zero_row + g / 2);
    // Byte j holds zeros 2j (low nibble) and 2j + 1 (high nibble): each byte twice, then lane k
    // shifted right by 4 (k % 2).
    const __m512i doubled = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes));
    const __m512i shifts = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i z = _mm512_and_si512(_mm512_srlv_epi32(doubled, shifts), _mm512_set1_epi32(0x0F));
    return _mm512_cvtepi32_ps(z);
  } else {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(firstLanes(count), zero_row + g)));
  }
}

// What every row of one call shares: shapes, and how lanes pick their group's scale.
template <int B>
struct RowPlan {
  static constexpr int64_t kChunk = B == 4 ? 128 : 64, kLaneCols = kChunk / 16;
  int64_t cols, group_size, groups, lanes, chunked;  // chunked: columns in full chunks
  int64_t code_bytes, zero_bytes;                    // per row
  bool wide;             // a chunk lies inside one group
  __m512i pick;          // !wide: lane l's group within its chunk, (l · kLaneCols) / group_size
  __mmask8 chunk_groups;  // !wide: one bit per group in a chunk (2 or 4)

  explicit RowPlan(const QuantMatrix& m)
      : cols(m.cols),
        group_size(m.groupSize()),
        groups(m.groups()),
        lanes(m.cols / kLaneCols),
        chunked(m.cols / kChunk * kChunk),
        code_bytes(codeRowBytes(m.cols, B)),
        zero_bytes(codeRowBytes(m.groups(), B)),
        wide(group_size % kChunk == 0 || groups == 1) {
    alignas(64) int32_t lane_group[16];
    for (int l = 0; l < 16; ++l) lane_group[l] = wide ? 0 : static_cast<int32_t>(l * kLaneCols / group_size);
    pick = _mm512_load_si512(lane_group);
    chunk_groups = wide ? 1 : static_cast<__mmask8>((1u << (kChunk / group_size)) - 1);
  }
};

// Σ_g s_g z_g S_ig over a row's groups (S = Activations::xq_group_sum), as 16 partial sums per
// activation row: the zero-point term of the formula above, which the caller subtracts.
template <int NX, int B>
void zeroTerms(const RowPlan<B>& p, const uint16_t* scales, const uint8_t* zero_row, const Activations& a,
               __m512* out) {
  const float symmetric_zero = static_cast<float>(1 << (B - 1));
  for (int i = 0; i < NX; ++i) out[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < p.groups; g += 16) {
    const __mmask16 live = firstLanes(p.groups - g);
    __m512 s = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, scales + g));
    s = _mm512_mul_ps(s, zero_row ? zeros16<B>(zero_row, g, p.groups - g) : _mm512_set1_ps(symmetric_zero));
    for (int i = 0; i < NX; ++i)
      out[i] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(live, a.xq_group_sum + i * p.groups + g), out[i]);
  }
}

// ---------------------------------------------------------------------------------------------
// A tile of R weight rows.

// A row's float16 scales as floats, 16 at a time (wide groups: the loop broadcasts them from
// memory into its FMAs).
inline void widenScales(const uint16_t* half, int64_t groups, float* out) {
  for (int64_t g = 0; g < groups; g += 16) {
    const __mmask16 live = firstLanes(groups - g);
    _mm512_mask_storeu_ps(out + g, live, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, half + g)));
  }
}

// Groups of 32 or 64 columns: chunk k's scales, one per lane (lane l takes its group's).
template <int B>
inline __m512 laneScales(const RowPlan<B>& p, const uint16_t* half, int64_t k) {
  const __m128 s = _mm_cvtph_ps(_mm_maskz_loadu_epi16(p.chunk_groups, half + k * (RowPlan<B>::kChunk / p.group_size)));
  return _mm512_permutexvar_ps(p.pick, _mm512_castps128_ps512(s));
}

// out[t * NX + i] ≈ W[r0 + t] · x[i] for R weight rows and NX activation rows. Each chunk of
// xq and its lane scales are loaded once for the R rows: the L1 loads, not the arithmetic, are
// what a single row per pass is bound by. WIDE (groups of whole chunks): a group's chunks are
// summed (times d_b per lane) before its scale is applied, one FMA per chunk and one per group;
// otherwise each chunk is scaled per lane (d_b · the lane's group scale) as it comes.
// `group_scale`: room for R rows of `groups` floats.
//
// The codes of the R rows are R short streams read side by side, which the hardware prefetcher
// follows poorly (one row at a time it sees one long stream); so the tile prefetches, into L2,
// the codes kPrefetchAhead bytes past its own as it goes: R cache lines per chunk from `ahead`
// (nullptr near the matrix's end).
template <int R, int NX, int B, bool WIDE, bool SPLIT>
void gemvTileInt8(const QuantMatrix& m, const RowPlan<B>& p, int64_t r0, const Activations& a, const float* zero_init,
                  float* group_scale, const uint8_t* ahead, float* out) {
  static_assert(RowPlan<B>::kChunk * B / 8 == 64, "a chunk of codes is one cache line");
  constexpr int64_t kChunk = RowPlan<B>::kChunk, kLaneCols = RowPlan<B>::kLaneCols;
  const int64_t chunks = p.chunked / kChunk;
  const uint8_t* codes[R];
  const uint16_t* scales[R];
  const float* widened[R];
  for (int t = 0; t < R; ++t) {
    codes[t] = m.codes + (r0 + t) * p.code_bytes;
    scales[t] = m.scales + (r0 + t) * p.groups;
    float* row_scales = group_scale + t * p.groups;
    if constexpr (WIDE) widenScales(scales[t], p.groups, row_scales);
    widened[t] = row_scales;
  }
  // The tile's codes kPrefetchAhead bytes on from chunk k's: R cache lines.
  const auto prefetch_ahead = [&](int64_t k) {
    if (ahead)
      for (int t = 0; t < R; ++t) _mm_prefetch(reinterpret_cast<const char*>(ahead + (k * R + t) * 64), _MM_HINT_T1);
  };
  // Σ over chunks [k0, k1) of the lanes · d_b, into sum[t][i] (WIDE), or times `scale` too.
  const auto chunks_into = [&](int64_t k0, int64_t k1, __m512(&sum)[R][NX]) {
    for (int64_t k = k0; k < k1; ++k) {
      const int8_t* xq = a.xq + k * kChunk;
      const int8_t* lo = SPLIT ? a.xq_lo + k * kChunk : nullptr;
      const float* lane_scale = a.xq_lane_scale + k * 16;
      prefetch_ahead(k);
      for (int t = 0; t < R; ++t) {
        const __m512 scale = WIDE ? _mm512_setzero_ps() : laneScales(p, scales[t], k);  // !WIDE only
        for (int i = 0; i < NX; ++i) {
          const __m512 dot = chunkDot<B, SPLIT>(codes[t] + k * 64, xq + i * p.cols, lo + (SPLIT ? i * p.cols : 0));
          const __m512 d = _mm512_loadu_ps(lane_scale + i * p.lanes);
          if constexpr (WIDE) {
            sum[t][i] = _mm512_fmadd_ps(dot, d, sum[t][i]);
          } else {
            // The zero points' lanes of this chunk (zero_init, see zeroInit) ride on the same FMA.
            const __m512 coded = zero_init ? _mm512_fmadd_ps(dot, d, _mm512_loadu_ps(zero_init + i * p.lanes + k * 16))
                                           : _mm512_mul_ps(dot, d);
            sum[t][i] = _mm512_fmadd_ps(coded, scale, sum[t][i]);
          }
        }
      }
    }
  };

  __m512 acc[R][NX];
  for (int t = 0; t < R; ++t)
    for (int i = 0; i < NX; ++i) acc[t][i] = _mm512_setzero_ps();
  const int64_t per_group = p.groups == 1 ? chunks : p.group_size / kChunk;
  if (WIDE && per_group == 1) {
    // One chunk per group (e.g. 4-bit codes in groups of 128): each chunk's lanes go to the
    // row's accumulator at once, with no group loop around a one-chunk sum.
    for (int64_t k = 0; k < chunks; ++k) {
      const int8_t* xq = a.xq + k * kChunk;
      const int8_t* lo = SPLIT ? a.xq_lo + k * kChunk : nullptr;
      const float* lane_scale = a.xq_lane_scale + k * 16;
      prefetch_ahead(k);
      for (int i = 0; i < NX; ++i) {
        const __m512 d = _mm512_loadu_ps(lane_scale + i * p.lanes);
        const __m512 start = zero_init ? _mm512_set1_ps(zero_init[i * p.groups + k]) : _mm512_setzero_ps();
        for (int t = 0; t < R; ++t) {
          const __m512 dot = chunkDot<B, SPLIT>(codes[t] + k * 64, xq + i * p.cols, lo + (SPLIT ? i * p.cols : 0));
          acc[t][i] = _mm512_fmadd_ps(_mm512_fmadd_ps(dot, d, start), _mm512_set1_ps(widened[t][k]), acc[t][i]);
        }
      }
    }
  } else if constexpr (WIDE) {
    for (int64_t g = 0, k = 0; k < chunks; ++g, k += per_group) {
      __m512 group[R][NX];
      for (int i = 0; i < NX; ++i) {
        const __m512 start = zero_init ? _mm512_set1_ps(zero_init[i * p.groups + g]) : _mm512_setzero_ps();
        for (int t = 0; t < R; ++t) group[t][i] = start;
      }
      chunks_into(k, std::min(k + per_group, chunks), group);
      for (int t = 0; t < R; ++t)
        for (int i = 0; i < NX; ++i) acc[t][i] = _mm512_fmadd_ps(group[t][i], _mm512_set1_ps(widened[t][g]), acc[t][i]);
    }
  } else {
    chunks_into(0, chunks, acc);
  }

  if (!zero_init)
    for (int t = 0; t < R; ++t) {
      __m512 zero_terms[NX];
      zeroTerms<NX, B>(p, scales[t], m.symmetric ? nullptr : m.zeros + (r0 + t) * p.zero_bytes, a, zero_terms);
      for (int i = 0; i < NX; ++i) acc[t][i] = _mm512_sub_ps(acc[t][i], zero_terms[i]);
    }
  hsums<R * NX>(&acc[0][0], out);
  for (int t = 0; t < R; ++t) {
    // 32-column blocks after the last full chunk (a row that is no multiple of a chunk).
    if (p.chunked < p.cols) {
      __m256 tail[NX];
      for (int i = 0; i < NX; ++i) tail[i] = _mm256_setzero_ps();
      for (int64_t c = p.chunked; c < p.cols; c += kInt8Block) {
        const float scale = _cvtsh_ss(scales[t][c / p.group_size]);
        for (int i = 0; i < NX; ++i) {
          const __m256 factor = _mm256_set1_ps(a.xq_lane_scale[i * p.lanes + c / kLaneCols] * scale);
          const int8_t* lo = SPLIT ? a.xq_lo + i * p.cols + c : nullptr;
          tail[i] = _mm256_fmadd_ps(blockDot<B, SPLIT>(codes[t], c, a.xq + i * p.cols + c, lo), factor, tail[i]);
        }
      }
      for (int i = 0; i < NX; ++i) out[t * NX + i] += hsum(tail[i]);
    }
  }
}

// How far ahead of a tile its prefetches run: about two 4-row tiles of 4096 4-bit columns, the
// best of 8-24 KiB measured on 4096x4096 (a 1-tile lead, and the L1 hint, were slower).
constexpr int64_t kPrefetchAhead = 16 << 10;

// A symmetric matrix's zero-point term, -z Σ_g s_g S_g (z = 2^(B-1), S = xq_group_sum), is the
// same for every row up to the scales s_g, so it can start each group's sum instead of costing
// a pass over each row's scales (zeroTerms): WIDE: -z S_g / 16 in each of the 16 lanes of group
// g's accumulator, [NX, groups]; otherwise lane l of chunk k, in group g, starts at
// -z S_g / (g's lanes in the chunk), [NX, lanes], and meets g's scale in the chunk's FMA.
// nullptr (zeroTerms it is) for asymmetric matrices and rows with columns after the last chunk,
// whose groups the chunks do not cover.
template <int NX, int B, bool WIDE>
const float* zeroInit(const QuantMatrix& m, const RowPlan<B>& p, const Activations& a, std::vector<float>& buffer) {
  if (!m.symmetric || p.chunked != p.cols) return nullptr;
  const float z = static_cast<float>(1 << (B - 1));
  if constexpr (WIDE) {
    buffer.resize(static_cast<size_t>(NX * p.groups));
    for (int64_t j = 0; j < NX * p.groups; ++j) buffer[j] = -z * a.xq_group_sum[j] / 16.0f;
  } else {
    constexpr int64_t kLaneCols = RowPlan<B>::kLaneCols;
    const float per_lane = static_cast<float>(kLaneCols) / static_cast<float>(p.group_size);  // 1 / lanes per group
    buffer.resize(static_cast<size_t>(NX * p.lanes));
    for (int i = 0; i < NX; ++i)
      for (int64_t l = 0; l < p.lanes; ++l)
        buffer[i * p.lanes + l] = -z * a.xq_group_sum[i * p.groups + l * kLaneCols / p.group_size] * per_lane;
  }
  return buffer.data();
}

template <int NX, int B, bool WIDE, bool SPLIT>
void rowsInt8(const QuantMatrix& m, const RowPlan<B>& p, const Activations& a, float* y, int64_t row_begin,
              int64_t row_end) {
  constexpr int R = NX <= 2 ? 4 : 2;  // rows per tile: R · NX accumulators, with room for xq in registers
  thread_local std::vector<float> group_scale, zeros;
  group_scale.resize(static_cast<size_t>(R * p.groups));
  const float* zero_init = zeroInit<NX, B, WIDE>(m, p, a, zeros);
  float out[R * NX];
  int64_t r = row_begin;
  const int64_t prefetched = R * (p.chunked / RowPlan<B>::kChunk) * 64;  // bytes a tile prefetches
  for (; r + R <= row_end; r += R) {
    const int64_t ahead = r * p.code_bytes + kPrefetchAhead;
    const bool inside = ahead + prefetched <= m.rows * p.code_bytes;
    gemvTileInt8<R, NX, B, WIDE, SPLIT>(m, p, r, a, zero_init, group_scale.data(), inside ? m.codes + ahead : nullptr,
                                        out);
    for (int t = 0; t < R; ++t)
      for (int i = 0; i < NX; ++i) y[i * m.rows + r + t] = out[t * NX + i];
  }
  for (; r < row_end; ++r) {
    gemvTileInt8<1, NX, B, WIDE, SPLIT>(m, p, r, a, zero_init, group_scale.data(), nullptr, out);
    for (int i = 0; i < NX; ++i) y[i * m.rows + r] = out[i];
  }
}

template <int NX, int B>
void rowsInt8(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  const RowPlan<B> plan(m);
  if (a.xq_lo) {
    if (plan.wide)
      rowsInt8<NX, B, true, true>(m, plan, a, y, row_begin, row_end);
    else
      rowsInt8<NX, B, false, true>(m, plan, a, y, row_begin, row_end);
  } else {
    if (plan.wide)
      rowsInt8<NX, B, true, false>(m, plan, a, y, row_begin, row_end);
    else
      rowsInt8<NX, B, false, false>(m, plan, a, y, row_begin, row_end);
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

// ---------------------------------------------------------------------------------------------
// Quantizing the activations.

// xq[32] = round(x[32] / d) (halves away from zero), d = max |x| / 127; lo != nullptr: also
// lo[32] = round(256 (x / d - xq)) (to nearest even), at most 127. Returns d and adds
// Σ xq (lo: 256 Σ xq + Σ lo) to *sum.
inline float quantizeBlock(const float* x, int8_t* xq, int8_t* lo, int* sum) {
  const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
  const __m512 inverse = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  // v = x · inverse, |v| <= 127; digits[0] = round(v) (v ± 0.5 (the sign of v), truncated),
  // digits[1] = round(256 (v - digits[0])) clamped to 127 (v - digits[0] is exact in float).
  const auto code = [&](__m512 x16, int8_t* hi_out, int8_t* lo_out) {
    const __m512 v = _mm512_mul_ps(x16, inverse);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
    const __m512 half = _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(0.5f))));
    const __m512i hi = _mm512_cvttps_epi32(_mm512_add_ps(v, half));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hi_out), _mm512_cvtepi32_epi8(hi));
    if (!lo_out) return hi;
    const __m512 rest = _mm512_mul_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(hi)), _mm512_set1_ps(256.0f));
    const __m512i low = _mm512_min_epi32(_mm512_cvtps_epi32(rest), _mm512_set1_epi32(127));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lo_out), _mm512_cvtepi32_epi8(low));
    return _mm512_add_epi32(_mm512_slli_epi32(hi, 8), low);
  };
  const __m512i s0 = code(x0, xq, lo), s1 = code(x1, xq + 16, lo ? lo + 16 : nullptr);
  *sum += _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
  return amax / 127.0f;
}

// xq[cols] in column order → out[cols] in XOrder::LowHigh128 (then Nibbles32 for the 32-column
// blocks after the last full 128). Even columns are the low bytes of 16-bit pairs, odd columns
// the high bytes: vpmovwb of the pairs, and of the pairs shifted right by 8, splits a run of
// columns into both halves.
void reorderLowHigh(const int8_t* natural, int64_t cols, int8_t* out) {
  int64_t c = 0;
  for (; c + 128 <= cols; c += 128) {
    const __m512i p0 = _mm512_loadu_si512(natural + c), p1 = _mm512_loadu_si512(natural + c + 64);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), _mm512_cvtepi16_epi8(p0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c + 32), _mm512_cvtepi16_epi8(p1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c + 64), _mm512_cvtepi16_epi8(_mm512_srli_epi16(p0, 8)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c + 96), _mm512_cvtepi16_epi8(_mm512_srli_epi16(p1, 8)));
  }
  for (; c < cols; c += kInt8Block) {
    const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(natural + c));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), _mm256_cvtepi16_epi8(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c + 16), _mm256_cvtepi16_epi8(_mm256_srli_epi16(p, 8)));
  }
}

}  // namespace

void quantizeInt8Vnni(const QuantMatrix& w, const float* x, int8_t* xq, int8_t* xq_lo, float* lane_scale,
                      float* group_sum) {
  const int64_t cols = w.cols, blocks_per_group = w.groupSize() / kInt8Block;
  const int64_t lanes_per_block = kInt8Block / int8LaneColumns(w.type);
  // Two digits: each lane's sums come out 256 times too large (256 Σ q xq + Σ q xq_lo).
  const float unit = xq_lo ? 1.0f / 256.0f : 1.0f;
  // 4-bit: quantized in column order into `natural`, then reordered (XOrder::LowHigh128).
  thread_local std::vector<int8_t> natural, natural_lo;
  int8_t *out = xq, *out_lo = xq_lo;
  if (w.type == WeightType::Q4) {
    natural.resize(static_cast<size_t>(cols));
    out = natural.data();
    if (xq_lo) {
      natural_lo.resize(static_cast<size_t>(cols));
      out_lo = natural_lo.data();
    }
  }
  std::fill(group_sum, group_sum + w.groups(), 0.0f);
  for (int64_t b = 0; b < cols / kInt8Block; ++b) {
    int sum = 0;
    const float d = unit * quantizeBlock(x + b * kInt8Block, out + b * kInt8Block,
                                         out_lo ? out_lo + b * kInt8Block : nullptr, &sum);
    // Every dot-product lane of block b is scaled by d (kernels_internal.h: a lane's columns
    // lie inside one block, and the reordering stays inside 128-column blocks).
    std::fill_n(lane_scale + b * lanes_per_block, lanes_per_block, d);
    group_sum[b / blocks_per_group] += d * static_cast<float>(sum);
  }
  if (w.type != WeightType::Q4) return;
  reorderLowHigh(natural.data(), cols, xq);
  if (xq_lo) reorderLowHigh(natural_lo.data(), cols, xq_lo);
}

void matmulRowsInt8Vnni(const QuantMatrix& m, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  if (m.type == WeightType::Q4)
    rowsInt8<4>(m, a, y, row_begin, row_end);
  else
    rowsInt8<8>(m, a, y, row_begin, row_end);
}

}  // namespace slmc::runtime::detail

#pragma GCC pop_options
