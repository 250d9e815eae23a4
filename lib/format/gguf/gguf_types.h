// The ggml tensor types a GGUF file can name: one table row per type (id, name, block size, bytes
// per block, dequantizer), as ggml's type_traits[]. Every size computation and every "can slmc
// read this" decision reads this table; adding a type is adding a row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace slmc::gguf {

// Dequantizes `count` values (a whole number of blocks) from `src` into `dst`.
using DequantizeFn = void (*)(const std::byte* src, float* dst, int64_t count);

struct GgmlTypeTraits {
  uint32_t id;             // ggml_type as stored in the file
  const char* name;        // ggml's name ("Q4_K")
  int64_t block_size;      // values per block (1 for plain element types)
  size_t block_bytes;      // bytes per block
  DequantizeFn to_float;   // nullptr: slmc cannot read this type
};

// The row for a ggml type id, or nullptr when the id is not a ggml type.
const GgmlTypeTraits* findGgmlType(uint32_t id);
// The row for a known id; throws Error when it is unknown.
const GgmlTypeTraits& ggmlType(uint32_t id);
// "F32, F16, BF16, Q8_0, ..." : the types slmc dequantizes, for error messages.
std::string supportedGgmlTypeNames();

// Ids of the types slmc's import treats specially.
inline constexpr uint32_t kGgmlF32 = 0;
inline constexpr uint32_t kGgmlF16 = 1;
inline constexpr uint32_t kGgmlBF16 = 30;
// F32, F16 and BF16: stored as floats, imported as they are; any other type is dequantized.
inline constexpr bool isFloatGgmlType(uint32_t id) { return id == kGgmlF32 || id == kGgmlF16 || id == kGgmlBF16; }

}  // namespace slmc::gguf
