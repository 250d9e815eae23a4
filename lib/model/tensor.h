// A named weight's storage: element type, shape and bytes. The bytes are shared, read-only and
// may live in a memory-mapped checkpoint (no copy on load); a pass that changes a tensor builds
// a new one. Deliberately not a LibTorch tensor, so the core and the runtime stay LibTorch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/model/dtype.h"

namespace slmc {

using Shape = std::vector<int64_t>;

std::string shapeString(const Shape& shape);
int64_t shapeNumel(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Views `bytes` (which `owner` keeps alive); the byte count must match dtype and shape.
  Tensor(DType dtype, Shape shape, std::shared_ptr<const void> owner, const std::byte* bytes);

  static Tensor fromFloats(Shape shape, std::vector<float> values);
  static Tensor copyOf(DType dtype, Shape shape, const void* bytes);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  int64_t numel() const { return shapeNumel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
  const std::byte* bytes() const { return bytes_; }
  bool defined() const { return bytes_ != nullptr || numel() == 0; }

  // Pointer to float32 elements; only for dtype F32.
  const float* floats() const;
  // The values as float32 whatever the stored float dtype (F32 is copied, F16/BF16 widened).
  std::vector<float> toFloats() const;
  // Same tensor converted to another float dtype (round to nearest even).
  Tensor to(DType dtype) const;
  // True when every element is finite (float dtypes only; integers always are).
  bool allFinite() const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  const std::byte* bytes_ = nullptr;
};

}  // namespace slmc
