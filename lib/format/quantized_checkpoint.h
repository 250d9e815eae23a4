// slmc's quantized Hugging Face-style directory (until a model is packed into a .slmc file):
// config.json carries a `quantization_config` with quant_method "slmc", and model.safetensors
// holds, for each quantized weight W:
//   W.qcodes  U8  [rows, packedRowBytes(cols, bits)]   codes, bit_packing.h layout
//   W.scales  F16 [rows, groups]
//   W.qzeros  U8  [rows, packedRowBytes(groups, bits)] zero points (asymmetric schemes only)
// Tensors keep slmc's canonical (Llama-style, split q/k/v) names for every family, because no
// other tool reads this layout anyway. Float tensors are stored as they are. transformers cannot
// load such a directory; slmc loads it back to the same model bit for bit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

inline constexpr const char* kSlmcQuantMethod = "slmc";
inline constexpr int kSlmcQuantFormatVersion = 1;

// True when the model has quantized weights or quantized activations.
bool isQuantizedModel(const Model& model);

// The `quantization_config` object for config.json.
nlohmann::json quantizationConfig(const Model& model);

// The tensors to write: float tensors as they are, each quantized weight as its qcodes / scales
// / qzeros tensors, in canonical order.
std::vector<std::pair<std::string, Tensor>> quantizedCheckpointTensors(const Model& model);

// Rebuilds the model's quantization state from `quantization_config` and the stored tensors
// (which are consumed from `raw`); `origin` names the directory in errors.
void importQuantizedTensors(const nlohmann::json& quantization_config, std::vector<std::pair<std::string, Tensor>>& raw,
                            Model& model, const std::string& origin);

}  // namespace slmc
