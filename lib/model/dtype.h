// Element types of stored tensors: one table row per type (name, size), read by every reader,
// writer and size computation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace slmc {

enum class DType : uint8_t { F32, F16, BF16, I32, I64, U8 };

struct DTypeTraits {
  DType dtype;
  const char* safetensors_name;  // as in the safetensors header ("F32", "BF16", ...)
  size_t bytes;
  bool is_float;
};

const DTypeTraits& traits(DType dtype);
inline size_t dtypeSize(DType dtype) { return traits(dtype).bytes; }
inline const char* dtypeName(DType dtype) { return traits(dtype).safetensors_name; }
// Parses a safetensors dtype name; throws Error naming the supported ones otherwise.
DType parseDType(const std::string& name);

inline float bf16ToFloat(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even, NaN kept quiet: the rounding PyTorch uses for .to(torch.bfloat16).
inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float f);

}  // namespace slmc
