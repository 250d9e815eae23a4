// A linear weight held as integer codes on a per-group grid (quant_scheme.h). It always
// dequantizes to the float tensor the reference forward runs, so every figure measured on a
// quantized model is that model's own.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/quant_scheme.h"
#include "lib/model/tensor.h"

namespace slmc {

// One group's grid.
struct GroupGrid {
  float scale = 1.0f;  // nonzero, exactly representable in float16 (negative: see quant_scheme.h)
  uint8_t zero = 0;    // code of the value 0
};

struct QuantizedTensor {
  QuantScheme scheme;          // group_size is the effective one: it divides cols
  int64_t rows = 0, cols = 0;  // the weight is [rows, cols] = [out_features, in_features]
  std::vector<uint8_t> codes;  // [rows, cols], one code per byte
  std::vector<float> scales;   // [rows, groups]
  std::vector<uint8_t> zeros;  // [rows, groups] (symmetric: all 2^(bits-1))

  int64_t groups() const { return scheme.group_size > 0 ? cols / scheme.group_size : 1; }
  GroupGrid grid(int64_t row, int64_t group) const;
  // F32 [rows, cols].
  Tensor dequantize() const;
  // Throws Error (naming `name`) when sizes, codes, scales or zeros are inconsistent.
  void validate(const std::string& name) const;
};

// The plain grid for values in [lo, hi] (widened to contain 0; symmetric: the signed extreme of
// the two on code 0; a zero-width range gets a tiny positive scale).
GroupGrid gridForRange(float lo, float hi, int bits, bool symmetric);
inline uint8_t quantizeValue(float x, GroupGrid g, int bits);
inline float dequantizeValue(uint8_t q, GroupGrid g) { return (static_cast<float>(q) - g.zero) * g.scale; }

// Round-to-nearest of a row-major [rows, cols] matrix on the given per-[row, group] grids.
QuantizedTensor quantizeOnGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                const std::vector<GroupGrid>& grids);
// RTN with min-max grids (scheme.group_size must divide cols, or be 0).
QuantizedTensor quantizeRtn(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme);

inline uint8_t quantizeValue(float x, GroupGrid g, int bits) {
  const float q = x / g.scale + static_cast<float>(g.zero);
  const float maxq = static_cast<float>(maxCode(bits));
  // Written so that NaN lands on 0 (every comparison with NaN is false).
  const float r = q > 0 ? (q < maxq ? q : maxq) : 0.0f;
  return static_cast<uint8_t>(r + 0.5f);  // r >= 0: round half up
}

}  // namespace slmc
