// The portable path, and the reference the SIMD paths are tested against: dequantize one
// weight row into floats, then one dot product per activation row.
#include <vector>

#include "runtime/kernels_internal.h"

namespace slmc::runtime::detail {

void dequantizeRowScalar(const QuantMatrix& w, int64_t r, float* out) {
  const int64_t cols = w.cols;
  switch (w.type) {
    case WeightType::F32:
      std::memcpy(out, w.f32 + r * cols, static_cast<size_t>(cols) * sizeof(float));
      return;
    case WeightType::F16:
      for (int64_t c = 0; c < cols; ++c) out[c] = f16ToF32(w.f16[r * cols + c]);
      return;
    case WeightType::BF16:
      for (int64_t c = 0; c < cols; ++c) out[c] = bf16ToF32(w.bf16[r * cols + c]);
      return;
    default:
      break;
  }
  const int bits = w.bits();
  const int64_t group_size = w.groupSize();
  thread_local std::vector<uint8_t> codes;
  codes.resize(static_cast<size_t>(cols));
  unpackCodes(w.codes + r * codeRowBytes(cols, bits), cols, bits, codes.data());
  thread_local RowGrids grids;
  grids.scale.resize(static_cast<size_t>(w.groups()));
  for (int64_t g = 0; g < w.groups(); ++g) grids.scale[g] = f16ToF32(w.scales[r * w.groups() + g]);
  grids.loadZeros(w, r);
  for (int64_t g = 0; g < w.groups(); ++g) {
    const float scale = grids.scale[g], zero = static_cast<float>(grids.zero[g]);
    for (int64_t c = g * group_size; c < (g + 1) * group_size; ++c)
      out[c] = (static_cast<float>(codes[c]) - zero) * scale;
  }
}

namespace {

float dot(const float* a, const float* b, int64_t n) {
  float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // four chains: a portable 3-4x over one
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) sums[k] += a[i + k] * b[i + k];
  for (; i < n; ++i) sums[0] += a[i] * b[i];
  return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}

}  // namespace

void matmulRowsScalar(const QuantMatrix& w, const Activations& a, float* y, int64_t row_begin, int64_t row_end) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    dequantizeRowScalar(w, r, row.data());
    for (int64_t i = 0; i < a.n; ++i) y[i * w.rows + r] = dot(row.data(), a.x + i * w.cols, w.cols);
  }
}

}  // namespace slmc::runtime::detail
