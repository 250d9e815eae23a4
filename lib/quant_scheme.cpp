#include "lib/quant_scheme.h"

#include "lib/bit_packing.h"
#include "lib/error.h"

namespace slmc {

void validateBits(int bits) {
  require(bits == 2 || bits == 3 || bits == 4 || bits == 8,
          "unsupported bit width " + std::to_string(bits) + " (use 2, 3, 4 or 8)");
}

std::string schemeName(const QuantScheme& s) {
  return "int" + std::to_string(s.bits) + "-" + (s.group_size > 0 ? "g" + std::to_string(s.group_size) : "channel") +
         (s.symmetric ? "-sym" : "-asym");
}

int64_t effectiveGroupSize(const QuantScheme& s, int64_t cols) { return s.group_size > 0 ? s.group_size : cols; }

int64_t groupsPerRow(const QuantScheme& s, int64_t cols) {
  const int64_t g = effectiveGroupSize(s, cols);
  require(g > 0 && cols % g == 0, "group size " + std::to_string(g) + " does not divide a row of " +
                                      std::to_string(cols) + " columns");
  return cols / g;
}

int64_t quantizedBytes(const QuantScheme& s, int64_t rows, int64_t cols) {
  const int64_t groups = groupsPerRow(s, cols);
  int64_t bytes = rows * packedRowBytes(cols, s.bits) + rows * groups * 2;  // codes + F16 scales
  if (!s.symmetric) bytes += rows * packedRowBytes(groups, s.bits);        // zeros
  return bytes;
}

}  // namespace slmc
