// slmc's quantized weights as ggml blocks. ggml's 32-value block types hold slmc's grids exactly
// when every block of 32 columns lies in one slmc group (group size a multiple of 32, or one
// group per row) and the offsets q - zero fit the type:
//   Q4_0  value = (c - 8) * d          c in 0..15: exact when every q - zero is in [-8, 7]
//                                      (symmetric 2/3/4-bit always)
//   Q4_1  value = c * d + m            c = q, d = scale, m = -zero * scale: exact when m is a
//                                      float16 (4-bit and below; checked per group)
//   Q5_0  value = (c - 16) * d         exact when q - zero is in [-16, 15] (symmetric 5-bit, whose
//                                      zero is 16, and asymmetric 4-bit always)
//   Q8_0  value = c * d, c int8        exact when q - zero is in [-128, 127] (symmetric 6/8-bit and
//                                      asymmetric 5/6-bit always)
// d is slmc's float16 scale, so the float products equal slmc's (q - zero) * scale bit for bit
// (each is an exact small-integer multiple of the scale). The smallest exact type wins. Anything
// else is re-encoded from slmc's dequantized values with ggml's reference quantizer (Q4_1 for
// 4-bit and below, Q8_0 above), and the added error is measured by reading the blocks back.
// Rows whose length is not a multiple of 32 fit no block type: they are written as F32, which
// holds the dequantized values exactly.
#pragma once

#include <cstdint>
#include <string>

#include "lib/model/quantized_tensor.h"

namespace slmc::gguf {

struct GgmlEncoding {
  uint32_t type = 0;       // ggml type id
  std::string bytes;       // rows of blocks, in the tensor's row order
  bool exact = false;      // reads back to exactly QuantizedTensor::dequantize()
  double max_abs_error = 0;  // largest |read back - slmc's value| (0 when exact)
  double rms_error = 0;
  std::string reason;      // why this type (and why not an exact one)
};

// Chooses and builds the encoding of `q`, then reads it back through lib/format/gguf/gguf_dequantize to
// measure the error (and to check every "exact" claim: a mismatch throws an internal Error).
GgmlEncoding encodeForGguf(const QuantizedTensor& q);

// ggml's reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_1_ref) over `count`
// values, a multiple of 32.
std::string quantizeQ8_0(const float* x, int64_t count);
std::string quantizeQ4_1(const float* x, int64_t count);

}  // namespace slmc::gguf
