#include "lib/model/model_size.h"

#include "lib/model/quant_scheme.h"

namespace slmc {

namespace {
int64_t zeroCount(const Tensor& tensor) {
  if (!traits(tensor.dtype()).is_float) return 0;
  int64_t zeros = 0;
  for (float v : tensor.toFloats()) zeros += v == 0.0f;
  return zeros;
}
}  // namespace

ModelSize modelSize(const Model& model) {
  ModelSize size;
  int64_t quantized_bytes = 0;
  for (const auto& [name, tensor] : model.tensors) {
    size.parameters += tensor.numel();
    size.nonzero_parameters += tensor.numel() - zeroCount(tensor);
    const auto q = model.quantized.find(name);
    if (q == model.quantized.end()) {
      size.bytes += static_cast<int64_t>(tensor.nbytes());
      continue;
    }
    const QuantizedTensor& qt = *q->second;
    const int64_t bytes = quantizedBytes(qt.scheme, qt.rows, qt.cols);
    size.bytes += bytes;
    quantized_bytes += bytes;
    size.quantized_parameters += tensor.numel();
  }
  size.sparse_tensors = static_cast<int64_t>(model.sparsity.size());
  if (size.parameters > 0)
    size.bits_per_weight = 8.0 * static_cast<double>(size.bytes) / static_cast<double>(size.parameters);
  if (size.quantized_parameters > 0)
    size.quantized_bits_per_weight =
        8.0 * static_cast<double>(quantized_bytes) / static_cast<double>(size.quantized_parameters);
  return size;
}

nlohmann::json modelSizeJson(const ModelSize& s) {
  return {{"parameters", s.parameters},
          {"bytes", s.bytes},
          {"bits_per_weight", s.bits_per_weight},
          {"quantized_parameters", s.quantized_parameters},
          {"quantized_bits_per_weight", s.quantized_bits_per_weight},
          {"nonzero_parameters", s.nonzero_parameters},
          {"sparse_tensors", s.sparse_tensors}};
}

}  // namespace slmc
