// Links slmc_runtime and nothing else of slmc: if the runtime ever needs a LibTorch (or
// slmc_core) symbol, this target stops linking. Runs one 4-bit matrix-vector product and
// checks it against the value worked out by hand.
#include <cstdint>
#include <cstdio>

#include "runtime/kernels.h"

int main() {
  using namespace slmc::runtime;
  // W = [[1, 2, -1, 0, 3, -2, 1, 1]] as symmetric 4-bit codes (zero 8) with scale 1.0 (0x3C00).
  const uint8_t codes[4] = {0xA9, 0x87, 0x6B, 0x99};  // q = 9, 10, 7, 8, 11, 6, 9, 9 (low nibble first)
  const uint16_t scale = 0x3C00;
  const QuantMatrix w = QuantMatrix::quantized(WeightType::Q4, 1, 8, 0, true, codes, &scale, nullptr);
  const float x[8] = {1, 1, 1, 1, 1, 1, 1, 2};
  float y = 0;
  if (const std::string problem = checkMatrix(w); !problem.empty()) {
    std::fprintf(stderr, "link check: %s\n", problem.c_str());
    return 1;
  }
  matmul(w, x, 1, &y);
  std::printf("slmc_runtime (%s): y = %g (expected 6)\n", isaName(activeIsa()), y);
  return y == 6.0f ? 0 : 1;
}
