// Integer weight quantization schemes: the one description of a quantized tensor's grid and
// storage that the quantizers, the checkpoint writer/reader, the pack and the runtime all read
// (ggml's type_traits idea: every size computation comes from here).
//
// Grid (every one of the 2^bits levels used):
//   codes q are unsigned, 0 <= q <= maxq = 2^bits - 1; value = (q - zero) * scale.
//   symmetric:  zero = 2^(bits-1) for every group; scale = the group's signed extreme (its value
//               of largest magnitude, the negative one on ties) / -2^(bits-1), llama.cpp's Q4_0
//               convention: the extreme lands exactly on code 0 and the levels are
//               -2^(bits-1)..2^(bits-1)-1 steps, all used; the scale is negative when the extreme
//               is positive. (The older 2 * max|w| / maxq grid never used code 0 fully and had
//               about a quarter more weight MSE at 4 bits; it is gone.)
//   asymmetric: the range [lo, hi] is widened to contain 0; scale = (hi - lo) / maxq,
//               zero = round(-lo / scale) clamped to [0, maxq].
//   That is the plain grid (gridForRange); the quantizers refine each group's scale (and zero)
//   by a search minimising the importance-weighted squared error (passes/quantize/grid_search.h).
//   Scales are float16 values (the plain grid rounds their magnitude up, so the extreme stays on
//   the grid), and what is stored (F16) is exactly what the in-memory model dequantizes with.
// Groups: `group_size` consecutive columns of a row share (scale, zero); 0 means one group per
// row (per-channel). Storage: packed codes (bit_packing.h) + one F16 scale per group + one packed
// `bits`-bit zero per group (asymmetric only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/weight_type.h"

namespace slmc {

struct QuantScheme {
  // The integer-grid row of runtime/weight_type.h the codes are stored as. The type names the
  // grid, not its bit width, so that two types of one width (int4 and a K-quant-like or NF4
  // type) can coexist; bits() is the type's.
  WeightType type = WeightType::Q4;
  int64_t group_size = 128;  // columns per group; 0: per-channel (one group per row)
  bool symmetric = true;

  QuantScheme() = default;
  // Throws Error unless `type` is an integer-grid type.
  QuantScheme(WeightType type, int64_t group_size, bool symmetric);
  // The integer grid the quantizers write with `bits`-bit codes (integerType); throws Error
  // (validateBits's) for a width no type has.
  QuantScheme(int bits, int64_t group_size, bool symmetric);

  int bits() const { return weightTypeTraits(type).bits; }

  bool operator==(const QuantScheme& o) const {
    return type == o.type && group_size == o.group_size && symmetric == o.symmetric;
  }
};

inline int maxCode(int bits) { return (1 << bits) - 1; }
// Throws Error unless an integer grid type of runtime/weight_type.h has `bits`-bit codes (2, 3,
// 4, 5, 6 or 8: integerBitWidths(), the choices of every `bits` option).
void validateBits(int bits);
// "int4-g128-sym", "int8-channel-asym": the type's pack storage name, then the groups.
std::string schemeName(const QuantScheme& scheme);
// schemeName of each, in order (a report's or a cache key's list of schemes).
std::vector<std::string> schemeNames(const std::vector<QuantScheme>& schemes);
// The inverse of schemeName; the "-sym" / "-asym" suffix may be left out (symmetric). Throws
// Error naming the text and the expected form.
QuantScheme parseSchemeName(const std::string& text);
// Columns per group for a row of `cols` (group_size 0 → cols).
int64_t effectiveGroupSize(const QuantScheme& scheme, int64_t cols);
int64_t groupsPerRow(const QuantScheme& scheme, int64_t cols);
// Storage of a [rows, cols] tensor: packed codes + F16 scales + packed zeros (asymmetric).
int64_t quantizedBytes(const QuantScheme& scheme, int64_t rows, int64_t cols);

}  // namespace slmc
