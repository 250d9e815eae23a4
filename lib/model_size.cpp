#include "lib/model_size.h"

#include "lib/quant_scheme.h"

namespace slmc {

ModelSize modelSize(const Model& model) {
  ModelSize size;
  int64_t quantized_bytes = 0;
  for (const auto& [name, tensor] : model.tensors) {
    size.parameters += tensor.numel();
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
          {"quantized_bits_per_weight", s.quantized_bits_per_weight}};
}

}  // namespace slmc
