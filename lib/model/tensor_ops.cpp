#include "lib/model/tensor_ops.h"

#include <cstring>

#include "lib/support/error.h"

namespace slmc {

namespace {
void require2d(const Tensor& t, const char* op) {
  require(t.shape().size() == 2, std::string("internal: ") + op + " needs a 2-D tensor, got " + shapeString(t.shape()));
}

// Rows of `t` permuted: out row r = in row source[r].
Tensor permuteRows(const Tensor& t, const std::vector<int64_t>& source) {
  const size_t row_bytes = static_cast<size_t>(t.dim(1)) * dtypeSize(t.dtype());
  std::vector<std::byte> out(t.nbytes());
  for (size_t r = 0; r < source.size(); ++r)
    std::memcpy(out.data() + r * row_bytes, t.bytes() + static_cast<size_t>(source[r]) * row_bytes, row_bytes);
  return Tensor::copyOf(t.dtype(), t.shape(), out.data());
}

std::vector<int64_t> rotaryPermutation(int64_t rows, int64_t num_heads, bool to_half) {
  require(num_heads > 0 && rows % num_heads == 0 && (rows / num_heads) % 2 == 0,
          "internal: rotary permutation needs an even head_dim");
  const int64_t head_dim = rows / num_heads, half = head_dim / 2;
  std::vector<int64_t> source(static_cast<size_t>(rows));
  for (int64_t h = 0; h < num_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t interleaved = h * head_dim + 2 * i + j, halved = h * head_dim + j * half + i;
        if (to_half)
          source[static_cast<size_t>(halved)] = interleaved;
        else
          source[static_cast<size_t>(interleaved)] = halved;
      }
  return source;
}
}  // namespace

Tensor transpose2d(const Tensor& t) {
  require2d(t, "transpose2d");
  const int64_t rows = t.dim(0), cols = t.dim(1);
  const size_t e = dtypeSize(t.dtype());
  std::vector<std::byte> out(t.nbytes());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(out.data() + static_cast<size_t>(c * rows + r) * e, t.bytes() + static_cast<size_t>(r * cols + c) * e, e);
  return Tensor::copyOf(t.dtype(), {cols, rows}, out.data());
}

Tensor sliceRows(const Tensor& t, int64_t begin, int64_t end) {
  require(!t.shape().empty() && 0 <= begin && begin <= end && end <= t.dim(0), "internal: sliceRows out of range");
  Shape shape = t.shape();
  shape[0] = end - begin;
  const size_t row_bytes = t.dim(0) ? t.nbytes() / static_cast<size_t>(t.dim(0)) : 0;
  return Tensor::copyOf(t.dtype(), shape, t.bytes() + static_cast<size_t>(begin) * row_bytes);
}

Tensor concatRows(const std::vector<Tensor>& parts) {
  require(!parts.empty(), "internal: concatRows of nothing");
  Shape shape = parts[0].shape();
  shape[0] = 0;
  std::vector<std::byte> out;
  for (const Tensor& p : parts) {
    require(p.dtype() == parts[0].dtype() && p.shape().size() == shape.size(), "internal: concatRows mismatch");
    shape[0] += p.dim(0);
    out.insert(out.end(), p.bytes(), p.bytes() + p.nbytes());
  }
  return Tensor::copyOf(parts[0].dtype(), shape, out.data());
}

Tensor interleavedToHalfRotary(const Tensor& w, int64_t num_heads) {
  require2d(w, "interleavedToHalfRotary");
  return permuteRows(w, rotaryPermutation(w.dim(0), num_heads, true));
}

Tensor halfToInterleavedRotary(const Tensor& w, int64_t num_heads) {
  require2d(w, "halfToInterleavedRotary");
  return permuteRows(w, rotaryPermutation(w.dim(0), num_heads, false));
}

}  // namespace slmc
