// Every way slmc stores a weight, one row each (ggml's type_traits): the pack's storage names,
// the runtime's kernels, the quantizers' valid bit widths, the option choices and CLI help, the
// reader's and writer's error lists and every byte-size function read this table. Adding a type
// is adding a row here (appended, so no index changes meaning) plus its kernels. Types are named
// by their id (WeightType); a bit width leads to a type only through integerType(), the grid
// the quantizers write.
//
// Dependency-free on purpose: the runtime owns it and lib/ (pack format, quantization scheme)
// includes it, so the two sides cannot disagree about a type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

// The order is the pack's from format version 1 (BF16, then Q5 and Q6 were appended); a new type
// is appended.
enum class WeightType : uint8_t { F32, F16, Q8, Q4, Q3, Q2, BF16, Q5, Q6 };

struct WeightTypeTraits {
  WeightType type;
  const char* name;          // "f32", "q4": the runtime's and the kernels' name
  const char* storage_name;  // "float32", "int4": the pack's metadata "storage" (docs/pack-format.md)
  int bits;                  // bits per stored element (float) or per code (quantized)
  // Integer grid: per row, `bits`-bit codes packed LSB-first from a byte boundary, a float16
  // scale per group of columns and, asymmetric only, a `bits`-bit zero per group packed the same
  // way (lib/model/quant_scheme.h). Float: `bits`-bit elements, row-major.
  bool quantized;
};

inline constexpr WeightTypeTraits kWeightTypes[] = {
    {WeightType::F32, "f32", "float32", 32, false}, {WeightType::F16, "f16", "float16", 16, false},
    {WeightType::Q8, "q8", "int8", 8, true},         {WeightType::Q4, "q4", "int4", 4, true},
    {WeightType::Q3, "q3", "int3", 3, true},         {WeightType::Q2, "q2", "int2", 2, true},
    {WeightType::BF16, "bf16", "bfloat16", 16, false},
    // 5- and 6-bit grids: int5 g32 sym is GGUF's Q5_0 bit for bit (5.5 bits per weight), int6 g32
    // sym a Q8_0 whose codes fit 6 bits (6.5 bits per weight in the pack).
    {WeightType::Q5, "q5", "int5", 5, true},         {WeightType::Q6, "q6", "int6", 6, true},
};
inline constexpr size_t kWeightTypeCount = std::size(kWeightTypes);

constexpr bool isWeightType(WeightType type) { return static_cast<size_t>(type) < kWeightTypeCount; }
constexpr const WeightTypeTraits& weightTypeTraits(WeightType type) { return kWeightTypes[static_cast<size_t>(type)]; }

namespace detail {
constexpr bool weightTypesInOrder() {
  for (size_t i = 0; i < kWeightTypeCount; ++i)
    if (static_cast<size_t>(kWeightTypes[i].type) != i) return false;
  return true;
}
}  // namespace detail
static_assert(detail::weightTypesInOrder(), "one kWeightTypes row per WeightType, in enum order");

// The integer grid type the quantizers write with `bits`-bit codes; nothing for a width no type
// has.
constexpr std::optional<WeightType> integerType(int bits) {
  for (const WeightTypeTraits& t : kWeightTypes)
    if (t.quantized && t.bits == bits) return t.type;
  return std::nullopt;
}

// The type whose pack storage name is `name`; nullptr for none.
inline const WeightTypeTraits* findStorage(std::string_view name) {
  for (const WeightTypeTraits& t : kWeightTypes)
    if (name == t.storage_name) return &t;
  return nullptr;
}

// "float32, float16, bfloat16, int2, ...": every storage name, for error messages.
inline std::string storageNames() {
  std::string out;
  for (const WeightTypeTraits& t : kWeightTypes) out += (out.empty() ? "" : ", ") + std::string(t.storage_name);
  return out;
}

// The bit widths of the integer grids, ascending: {2, 3, 4, 5, 6, 8}.
inline std::vector<int64_t> integerBitWidths() {
  std::vector<int64_t> widths;
  for (int b = 1; b <= 32; ++b)
    if (integerType(b)) widths.push_back(b);
  return widths;
}

// "2, 3, 4, 5, 6 or 8", for error messages and help.
inline std::string integerBitsText() {
  const std::vector<int64_t> widths = integerBitWidths();
  std::string out;
  for (size_t i = 0; i < widths.size(); ++i)
    out += (i == 0 ? "" : i + 1 == widths.size() ? " or " : ", ") + std::to_string(widths[i]);
  return out;
}

// Bytes of one row of `count` packed `bits`-bit codes: each row starts on a byte.
constexpr int64_t codeRowBytes(int64_t count, int bits) { return (count * bits + 7) / 8; }

// The bytes of a [rows, cols] integer-grid weight of `bits`-bit codes with `groups` groups per
// row, in the pack's block order: codes, float16 scales, zeros (asymmetric only). Their sum is
// what every report, the pack and the runtime count.
struct IntegerBlockBytes {
  int64_t codes = 0, scales = 0, zeros = 0;
  constexpr int64_t total() const { return codes + scales + zeros; }
};
constexpr IntegerBlockBytes integerBlockBytes(int bits, int64_t rows, int64_t cols, int64_t groups, bool symmetric) {
  IntegerBlockBytes b;
  b.codes = rows * codeRowBytes(cols, bits);
  b.scales = rows * groups * 2;
  b.zeros = symmetric ? 0 : rows * codeRowBytes(groups, bits);
  return b;
}

// Bytes of a [rows, cols] weight of a float type.
constexpr int64_t floatWeightBytes(WeightType type, int64_t rows, int64_t cols) {
  return rows * cols * (weightTypeTraits(type).bits / 8);
}

}  // namespace slmc
