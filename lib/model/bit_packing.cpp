#include "lib/model/bit_packing.h"

#include "lib/support/error.h"
#include "runtime/weight_type.h"

namespace slmc {

int64_t packedRowBytes(int64_t cols, int bits) { return codeRowBytes(cols, bits); }  // the type table's

std::vector<uint8_t> packCodes(const uint8_t* codes, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packedRowBytes(cols, bits);
  const unsigned limit = 1u << bits;
  std::vector<uint8_t> out(static_cast<size_t>(rows * row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = out.data() + r * row_bytes;
    const uint8_t* src = codes + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const unsigned code = src[c];
      // Not require(): its message would be built for every code (it was 80% of exporting SmolLM2).
      if (code >= limit)
        throw Error("internal: code " + std::to_string(code) + " does not fit " + std::to_string(bits) + " bits");
      const int64_t bit = c * bits;
      // A code spans at most two bytes (bits <= 8).
      const unsigned shifted = code << (bit % 8);
      dst[bit / 8] |= static_cast<uint8_t>(shifted & 0xFF);
      if ((bit % 8) + bits > 8) dst[bit / 8 + 1] |= static_cast<uint8_t>(shifted >> 8);
    }
  }
  return out;
}

std::vector<uint8_t> unpackCodes(const uint8_t* packed, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packedRowBytes(cols, bits);
  const unsigned mask = (1u << bits) - 1;
  std::vector<uint8_t> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = packed + r * row_bytes;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t bit = c * bits;
      unsigned word = src[bit / 8];
      if ((bit % 8) + bits > 8) word |= static_cast<unsigned>(src[bit / 8 + 1]) << 8;
      out[static_cast<size_t>(r * cols + c)] = static_cast<uint8_t>((word >> (bit % 8)) & mask);
    }
  }
  return out;
}

}  // namespace slmc
