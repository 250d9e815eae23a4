// Which float tensors are written at which dtype (see float_dtype.h).
#include "lib/format/float_dtype.h"

#include "lib/support/error.h"

namespace slmc {

namespace {

struct FloatDTypeName {
  const char* option;
  DType dtype;
};
constexpr FloatDTypeName kFloatDTypes[] = {{"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}};

// A tensor dequantized from a quantized source type is float32 in memory, but its precision is the
// source's: bfloat16 keeps it at half the bytes.
DType defaultDType(const Tensor& tensor, const std::string& name, const Model& model) {
  if (tensor.dtype() == DType::F32 && model.dequantized_from_source.count(name)) return DType::BF16;
  return tensor.dtype();
}

}  // namespace

DType parseFloatDType(const std::string& text, const std::string& what) {
  for (const FloatDTypeName& d : kFloatDTypes)
    if (text == d.option) return d.dtype;
  throw Error(what + " '" + text + "' is not a float dtype (use f32, f16 or bf16)");
}

Model withWrittenFloatDTypes(const Model& model, std::optional<DType> chosen) {
  Model out = model;
  for (const auto& [name, tensor] : model.tensors) {
    if (model.quantized.count(name) || !traits(tensor.dtype()).is_float) continue;
    const DType dtype = chosen ? *chosen : defaultDType(tensor, name, model);
    if (dtype != tensor.dtype()) out.tensors.set(name, tensor.to(dtype));
  }
  return out;
}

}  // namespace slmc
