// Which float tensors are written at which dtype (see float_dtype.h).
#include "lib/format/float_dtype.h"

#include <filesystem>
#include <set>

#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

struct FloatDTypeName {
  const char* option;
  DType dtype;
};
constexpr FloatDTypeName kFloatDTypes[] = {{"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}};

// The names of the tensors `model`'s source GGUF stores quantized; empty for any other source.
std::set<std::string> ggufQuantizedNames(const Model& model) {
  std::error_code ec;
  if (model.source.empty() || !std::filesystem::is_regular_file(model.source, ec) || !gguf::looksLikeGguf(model.source))
    return {};
  return gguf::quantizedTensorNames(model.source);
}

DType defaultDType(const Tensor& tensor, const std::string& name, const std::set<std::string>& gguf_quantized) {
  if (tensor.dtype() == DType::F32 && gguf_quantized.count(name)) return DType::BF16;
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
  const std::set<std::string> gguf_quantized = chosen ? std::set<std::string>() : ggufQuantizedNames(model);
  for (const auto& [name, tensor] : model.tensors) {
    if (model.quantized.count(name) || !traits(tensor.dtype()).is_float) continue;
    const DType dtype = chosen ? *chosen : defaultDType(tensor, name, gguf_quantized);
    if (dtype != tensor.dtype()) out.tensors.set(name, tensor.to(dtype));
  }
  return out;
}

}  // namespace slmc
