// The runtime's compute kernels: y = x · Wᵀ for a weight matrix held as float32, float16 or
// 2/3/4/8-bit integer codes, on float32 activations. No LibTorch, no Eigen: this file, its
// .cpp files and OpenMP are all a small app needs to run a linear layer.
//
// Quantized layout (the same as lib/quant_scheme.h + lib/bit_packing.h, so a pack's tensor
// blocks are used in place, without a copy):
//   value[r][c] = (q[r][c] - zero[r][g]) * scale[r][g],   g = c / group_size
//   codes:  per row, an LSB-first little-endian bit stream of `bits`-bit codes, each row
//           starting on a byte: codeRowBytes(cols, bits) bytes per row.
//   scales: float16 bit patterns, [rows, groups].
//   zeros:  asymmetric only: the zero codes packed like the codes, one row of `groups` codes
//           (codeRowBytes(groups, bits) bytes) per weight row. Symmetric: zero = 2^(bits-1).
//
// Every path (scalar, AVX2, AVX-512) dequantizes each weight exactly ((q - zero) * scale is
// exact in float32) and accumulates the products in float32; paths differ only in summation
// order, so they agree to ~1e-6 of the sum of |products|.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/cpu_features.h"

namespace slmc::runtime {

// ---------------------------------------------------------------------------------------------
// Weight types: one row per type (ggml's type_traits idea); sizes are computed from here.
enum class WeightType : uint8_t { F32, F16, Q2, Q3, Q4, Q8 };

struct WeightTypeTraits {
  WeightType type;
  const char* name;  // "f32", "f16", "q2", "q3", "q4", "q8"
  int bits;          // bits per stored weight (32, 16, 2, 3, 4, 8)
  bool quantized;    // integer codes + per-group scales (and zeros)
};

const WeightTypeTraits& traits(WeightType type);
// Q2/Q3/Q4/Q8 for bits 2/3/4/8; nothing for any other width.
std::optional<WeightType> quantizedType(int bits);
// Bytes of one row of `cols` packed `bits`-bit codes (equals lib's packedRowBytes).
inline int64_t codeRowBytes(int64_t cols, int bits) { return (cols * bits + 7) / 8; }

// ---------------------------------------------------------------------------------------------
// A read-only view of a [rows, cols] weight ([out_features, in_features], row-major). It owns
// nothing: the pointers usually point into an mmap'd pack.
struct QuantMatrix {
  WeightType type = WeightType::F32;
  int64_t rows = 0, cols = 0;

  const float* f32 = nullptr;     // F32: [rows, cols]
  const uint16_t* f16 = nullptr;  // F16: [rows, cols] float16 bit patterns

  // Quantized types only.
  const uint8_t* codes = nullptr;    // rows * codeRowBytes(cols, bits)
  int64_t group_size = 0;            // columns per group, divides cols; 0 = per-channel
  bool symmetric = true;             // zero = 2^(bits-1) for every group
  const uint16_t* scales = nullptr;  // [rows, groups] float16 bit patterns
  const uint8_t* zeros = nullptr;    // asymmetric: rows * codeRowBytes(groups, bits)

  int bits() const { return traits(type).bits; }
  int64_t groupSize() const { return group_size > 0 ? group_size : cols; }
  int64_t groups() const { return cols / groupSize(); }
  // Bytes of weight data a matmul reads: codes + scales + zeros (or the float values).
  int64_t weightBytes() const;

  static QuantMatrix float32(int64_t rows, int64_t cols, const float* values);
  static QuantMatrix float16(int64_t rows, int64_t cols, const uint16_t* values);
  // type: Q2/Q3/Q4/Q8 (quantizedType(bits)).
  static QuantMatrix quantized(WeightType type, int64_t rows, int64_t cols, int64_t group_size, bool symmetric,
                               const uint8_t* codes, const uint16_t* scales, const uint8_t* zeros);
};

// "" when `w` can be used; otherwise one line saying what is wrong (an empty shape, an unknown
// type, a group size that does not divide the columns, a missing pointer).
std::string checkMatrix(const QuantMatrix& w);

// ---------------------------------------------------------------------------------------------
// y[n, rows] = x[n, cols] · Wᵀ, all row-major float32. n = 1 is generation (matrix-vector);
// small n is prompt prefill in batches. Rows are split over the OpenMP threads (one thread for
// products under 64K multiply-adds, or when called inside a parallel region). `w` must pass
// checkMatrix; x and y must not overlap. No load reads outside w's, x's or y's memory (the SIMD
// paths decode a matrix's last row from a padded copy), so views into an mmap'd file are safe.
void matmul(const QuantMatrix& w, const float* x, int64_t n, float* y);
// The same on a named path (tests and the bench compare them). `isa` must be cpuSupports'd.
void matmul(const QuantMatrix& w, const float* x, int64_t n, float* y, Isa isa);

// Approximate and faster, opt-in: int8 activations. Each activation row is quantized per 32
// columns to int8 (d = max |x| / 127, x ≈ d * round(x / d), halves away from zero: llama.cpp's
// q8_0) and multiplied with the integer codes by AVX-512 VNNI (vpdpbusd); the result equals the
// exact product of W with the rounded x to float rounding. Every product then carries its
// activation's rounding error, so an output differs from matmul()'s by up to Σ_c |w_c| d_c / 2
// (d_c: the scale of column c's block), about 0.4 % of Σ|w| max|x|. Measured on stories260K
// packs decoding one token at a time: perplexity +0.4 % (int4 g32) to +1.9 % (int8 g32) over
// the exact kernels, top-1 token agreement 91 %; the runtime's exact results match the
// reference's perplexity to ~1e-6 (tests allow 1e-3). Hence opt-in: fine for fast generation,
// never for results checked against the reference. Runs when int8MatmulRuns(w, n): Q4 or Q8
// weights; groups of 32 or 64 columns, of a multiple of the kernel's chunk (128 columns for Q4,
// 64 for Q8), or one group per row of a multiple of 32 columns; n <= 4; the AVX-512 path active
// on a CPU with VNNI. Otherwise matmulInt8 is matmul().
bool int8MatmulRuns(const QuantMatrix& w, int64_t n);
void matmulInt8(const QuantMatrix& w, const float* x, int64_t n, float* y);

// Whether matmul(w, x, n, y) (the overload without an Isa) hands the products int8MatmulRuns
// accepts to matmulInt8: off unless the environment variable SLMC_INT8_ACTIVATIONS is "1" at
// start, or setInt8Activations(true). With it on, generation (n = 1) of 4/8-bit packs reads
// weights at memory speed; prefill (n > 4) and every other product stay exact.
bool int8Activations();
void setInt8Activations(bool on);

// out[cols] = row `row` of W as float32 (e.g. a token embedding from a quantized table).
void dequantizeRow(const QuantMatrix& w, int64_t row, float* out);

// The path matmul() takes. It starts as bestIsa(), or as the environment variable
// SLMC_KERNEL_ISA ("scalar", "avx2", "avx512") when set to a path this CPU runs.
Isa activeIsa();
// Forces a path; false (and nothing changed) when this CPU does not run it.
bool setKernelIsa(Isa isa);

}  // namespace slmc::runtime
