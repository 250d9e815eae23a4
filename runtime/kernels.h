// The runtime's compute kernels: y = x · Wᵀ for a weight matrix held as float32, float16,
// bfloat16 or 2/3/4/5/6/8-bit integer codes, on float32 activations. No LibTorch, no Eigen: this file, its
// .cpp files and OpenMP are all a small app needs to run a linear layer.
//
// Quantized layout (the same as lib/model/quant_scheme.h + lib/model/bit_packing.h, so a pack's tensor
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
// order, so they agree to ~1e-6 of the sum of |products|. On CPUs with AVX-512 VNNI, matmul()
// without an Isa runs 4/8-bit generation on int8-coded activations instead (ActivationCode
// below: by default two int8 digits per activation, within ~1e-5 of the exact result).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/cpu_features.h"
#include "runtime/weight_type.h"

namespace slmc::runtime {

// Weight types (their names, bits and sizes) are rows of the one type table the pack and the
// quantizers read too: runtime/weight_type.h.
using slmc::WeightType;

// ---------------------------------------------------------------------------------------------
// A read-only view of a [rows, cols] weight ([out_features, in_features], row-major). It owns
// nothing: the pointers usually point into an mmap'd pack.
struct QuantMatrix {
  WeightType type = WeightType::F32;
  int64_t rows = 0, cols = 0;

  const float* f32 = nullptr;      // F32: [rows, cols]
  const uint16_t* f16 = nullptr;   // F16: [rows, cols] float16 bit patterns
  const uint16_t* bf16 = nullptr;  // BF16: [rows, cols] bfloat16 bit patterns (the top half of a float32)

  // Quantized types only.
  const uint8_t* codes = nullptr;    // rows * codeRowBytes(cols, bits)
  int64_t group_size = 0;            // columns per group, divides cols; 0 = per-channel
  bool symmetric = true;             // zero = 2^(bits-1) for every group
  const uint16_t* scales = nullptr;  // [rows, groups] float16 bit patterns
  const uint8_t* zeros = nullptr;    // asymmetric: rows * codeRowBytes(groups, bits)

  int bits() const { return weightTypeTraits(type).bits; }
  int64_t groupSize() const { return group_size > 0 ? group_size : cols; }
  int64_t groups() const { return cols / groupSize(); }
  // Bytes of weight data a matmul reads: codes + scales + zeros (or the float values).
  int64_t weightBytes() const;

  static QuantMatrix float32(int64_t rows, int64_t cols, const float* values);
  static QuantMatrix float16(int64_t rows, int64_t cols, const uint16_t* values);
  static QuantMatrix bfloat16(int64_t rows, int64_t cols, const uint16_t* values);
  // type: an integer grid type (integerType(bits)).
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

// Products of one input, e.g. a layer's q/k/v, or its MLP's gate and up: y_j = x[n, cols] ·
// W_jᵀ for j < count (count <= kMaxSharedProducts), each equal to matmul(*W_j, x, n, y_j), in
// one parallel region and with x prepared (reordered, or coded as int8) once. Generation's
// products are too small for a region and a coding of x each to cost nothing: a 1024-column
// int4 row is 512 bytes. Matrices that read x differently (another type, column count or group
// size) run one after another instead.
struct MatmulOutput {
  const QuantMatrix* w;
  float* y;  // [n, w->rows]
};
constexpr int kMaxSharedProducts = 8;
void matmulShared(const MatmulOutput* products, int count, const float* x, int64_t n);

// A gated MLP's hidden state: g ← act(x · Gᵀ) ⊙ (x · Uᵀ), [n, rows], with u [n, rows] as
// scratch; gate and up are [rows, cols]. As matmulShared, and each thread then applies
// combine(g, u, count) (g[k] ← act(g[k]) · u[k]) to the rows it computed, while they are in its
// cache, instead of one thread doing all of them after the products.
using GateCombine = void (*)(float* g, const float* u, int64_t count);
void matmulGated(const QuantMatrix& gate, const QuantMatrix& up, const float* x, int64_t n, float* g, float* u,
                 GateCombine combine);

// Faster: int8 activations multiplied with the integer codes by AVX-512 VNNI (vpdpbusd). Each
// activation row is quantized per 32-column block b (d_b = max |x| / 127 over the block), in one
// of two codings:
enum class ActivationCode : uint8_t {
  // float32 activations: matmul(w, x, n, y, activeIsa()), the exact path described above.
  Float,
  // Two int8 digits per activation: x ≈ d_b (hi + lo / 256), hi = round(x / d_b) in [-127, 127],
  // lo = round(256 (x / d_b - hi)) in [-128, 127]. Each activation is off by at most d_b / 512
  // (1.5e-5 of its block's max |x|; d_b / 256 where lo saturates), so an output differs from
  // the exact one by at most Σ_c |w_c| d_c / 512 plus float rounding: within 5e-5 of the sum
  // of |products| on N(0, 1) activations (tests; more where one outlier sets a block's d).
  // Measured on stories260K packs (int4 g32 / per-channel, int8 g32 / per-channel): perplexity
  // within 1.3e-5 of the reference's (validate --ctx 4) and 1.4e-5 to 3.1e-5 of the exact
  // kernels' decoding 2,040 tokens one at a time, top-1 agreement >= 99.95 %. Costs one shift
  // and a second vpdpbusd per vpdpbusd: 4/8-bit generation stays near memory speed.
  Int8x2,
  // One int8 per activation: x ≈ d_b round(x / d_b) (halves away from zero: llama.cpp's q8_0).
  // Every product carries its activation's rounding error, up to Σ_c |w_c| d_c / 2 per output,
  // about 0.4 % of Σ|w| max|x|. Measured on stories260K packs decoding one token at a time:
  // perplexity +0.4 % (int4 g32) to +1.9 % (int8 g32) over the exact kernels, top-1 token
  // agreement 91 %. Fastest, but never for results checked against the reference.
  Int8,
};

// Whether matmulInt8 runs its int8 kernel for w and n: Q4 or Q8 weights; groups of 32 or 64
// columns, of a multiple of the kernel's chunk (128 columns for Q4, 64 for Q8), or one group
// per row of a multiple of 32 columns; n <= 4; the AVX-512 path active on a CPU with VNNI.
bool int8MatmulRuns(const QuantMatrix& w, int64_t n);
// y = x · Wᵀ with activations coded as `code` where int8MatmulRuns(w, n); otherwise (and for
// ActivationCode::Float) matmul(w, x, n, y, activeIsa()). Int8x2's result equals the exact
// product of W with the two-digit x to float rounding, Int8's that with the rounded x.
void matmulInt8(const QuantMatrix& w, const float* x, int64_t n, float* y, ActivationCode code);

// How matmul(w, x, n, y) (the overload without an Isa) codes the activations of the products
// int8MatmulRuns accepts (generation, n <= 4, of 4/8-bit packs); prefill (n > 4) and every
// other product stay exact. Int8x2 by default (so the runtime's perplexity matches the
// reference's to ~1e-5); the environment variable SLMC_EXACT_KERNELS="1" at start makes it
// Float, SLMC_INT8_ACTIVATIONS="1" Int8 (the former wins when both are set).
ActivationCode activationCode();
void setActivationCode(ActivationCode code);
// "float", "int8x2", "int8".
const char* activationCodeName(ActivationCode code);

// out[cols] = row `row` of W as float32 (e.g. a token embedding from a quantized table).
void dequantizeRow(const QuantMatrix& w, int64_t row, float* out);

// The path matmul() takes. It starts as bestIsa(), or as the environment variable
// SLMC_KERNEL_ISA ("scalar", "avx2", "avx512") when set to a path this CPU runs.
Isa activeIsa();
// Forces a path; false (and nothing changed) when this CPU does not run it.
bool setKernelIsa(Isa isa);

}  // namespace slmc::runtime
