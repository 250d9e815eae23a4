#include "lib/model/tensor.h"

#include <cmath>
#include <cstring>

#include "lib/support/error.h"

namespace slmc {

std::string shapeString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t shapeNumel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor::Tensor(DType dtype, Shape shape, std::shared_ptr<const void> owner, const std::byte* bytes)
    : dtype_(dtype), shape_(std::move(shape)), owner_(std::move(owner)), bytes_(bytes) {
  for (int64_t d : shape_) require(d >= 0, "negative dimension in tensor shape " + shapeString(shape_));
}

Tensor Tensor::fromFloats(Shape shape, std::vector<float> values) {
  require(static_cast<int64_t>(values.size()) == shapeNumel(shape),
          "internal: " + std::to_string(values.size()) + " values for shape " + shapeString(shape));
  auto storage = std::make_shared<std::vector<float>>(std::move(values));
  const auto* bytes = reinterpret_cast<const std::byte*>(storage->data());
  return Tensor(DType::F32, std::move(shape), std::move(storage), bytes);
}

Tensor Tensor::copyOf(DType dtype, Shape shape, const void* bytes) {
  const size_t n = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
  // A float vector gives 4-byte alignment to every dtype's elements.
  auto storage = std::make_shared<std::vector<float>>((n + 3) / 4);
  if (n) std::memcpy(storage->data(), bytes, n);
  const auto* data = reinterpret_cast<const std::byte*>(storage->data());
  return Tensor(dtype, std::move(shape), std::move(storage), data);
}

const float* Tensor::floats() const {
  require(dtype_ == DType::F32, std::string("internal: floats() on a ") + dtypeName(dtype_) + " tensor");
  return reinterpret_cast<const float*>(bytes_);
}

std::vector<float> Tensor::toFloats() const {
  const size_t n = static_cast<size_t>(numel());
  std::vector<float> out(n);
  switch (dtype_) {
    case DType::F32:
      if (n) std::memcpy(out.data(), bytes_, n * 4);
      break;
    case DType::F16:
    case DType::BF16: {
      const bool bf = dtype_ == DType::BF16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes_ + 2 * i, 2);
        out[i] = bf ? bf16ToFloat(h) : halfToFloat(h);
      }
      break;
    }
    default:
      throw Error(std::string("tensor of dtype ") + dtypeName(dtype_) + " cannot be read as float");
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype_) return *this;
  std::vector<float> values = toFloats();
  if (target == DType::F32) return fromFloats(shape_, std::move(values));
  require(target == DType::F16 || target == DType::BF16,
          std::string("cannot convert a float tensor to ") + dtypeName(target));
  std::vector<uint16_t> halves(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    halves[i] = target == DType::BF16 ? floatToBf16(values[i]) : floatToHalf(values[i]);
  return copyOf(target, shape_, halves.data());
}

bool Tensor::allFinite() const {
  if (!traits(dtype_).is_float) return true;
  if (dtype_ == DType::F32) {
    // Exponent bits all ones means Inf or NaN. A branch-free OR over the bit patterns
    // vectorises; std::isfinite per element did not, and this runs on every load.
    uint32_t non_finite = 0;
    for (int64_t i = 0, n = numel(); i < n; ++i) {
      uint32_t bits;
      std::memcpy(&bits, bytes_ + 4 * i, 4);
      non_finite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    return non_finite == 0;
  }
  for (float v : toFloats())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace slmc
