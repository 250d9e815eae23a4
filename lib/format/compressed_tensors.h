// A quantized model's Hugging Face directory in the compressed-tensors "pack-quantized" layout
// (`slmc export --format hf --quant-format compressed-tensors`), which the compressed-tensors
// package, transformers and vLLM load; slmc's own layout (quantized_checkpoint.h) only slmc reads.
//
// config.json's quantization_config (compressed-tensors' QuantizationConfig):
//   {"quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
//    "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int",
//        "symmetric": true, "strategy": "group", "group_size": 32, "dynamic": false, "observer": "minmax", ...},
//        "input_activations": null, "output_activations": null}},
//    "ignore": ["lm_head"], "kv_cache_scheme": null, "version": "...",
//    "sparsity_config": {"format": "dense", ...}}          (only for a model with sparsity records)
// One scheme covers every quantized linear with targets ["Linear"]; a model with several
// schemes (stories260K's down_proj falls back to per-channel) gets one group per scheme that
// names its layers. `ignore` names every linear kept in float, lm_head included when tied.
//
// Tensors, per quantized linear L (slmc weight L.weight, [rows, cols] = [out, in]):
//   L.weight_packed      I32 [rows, ceil(cols / k)]   k = 32 / bits codes per int32 along the input
//                                                     dimension, the first in the lowest bits
//   L.weight_scale       F32 [rows, groups]           config.json's torch_dtype, the dtype the loader
//                                                     gives the scale, so every float16 scale is exact
//   L.weight_zero_point  I32 [ceil(rows / k), groups] asymmetric only: zeros packed the same way
//                                                     along the output dimension
//   L.weight_shape       I64 [2]                      {rows, cols}
// Every other tensor is written as the float export writes it.
//
// The grids are the same, so the export is exact: compressed-tensors dequantizes a signed code
// q_s in [-2^(b-1), 2^(b-1)) as (q_s - zp_s) * scale and stores q_s + 2^(b-1) unsigned, which is
// slmc's unsigned code q (value (q - zero) * scale); slmc's symmetric zero 2^(b-1) is zp_s = 0
// (no zero-point tensor), an asymmetric zero z is zp_s = z - 2^(b-1), stored as z.
// pack-quantized holds weight-only 4- and 8-bit integer Linear weights: other widths, quantized
// activations, a quantized embedding and GPT-2's Conv1D layers are refused (exportability()).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

inline constexpr const char* kCompressedTensorsQuantMethod = "compressed-tensors";
inline constexpr const char* kCompressedTensorsFormat = "pack-quantized";
// The compressed-tensors release whose layout this writes (config.json "version"; its loader
// reads the layout from the other fields).
inline constexpr const char* kCompressedTensorsVersion = "0.12.2";

struct CompressedTensorsExportability {
  bool possible = false;
  // What is written ("35 int4 linears, exact"), or the first obstacle, naming the tensor, its
  // scheme and the formats it can go to.
  std::string detail;
};

// Whether the model's quantized weights can be written as compressed-tensors. A float model can
// (it has no quantized weights to convert).
CompressedTensorsExportability compressedTensorsExportability(const Model& model);

// The `quantization_config` object for config.json. Throws Error (the exportability detail)
// when the model cannot be written as compressed-tensors.
nlohmann::json compressedTensorsQuantizationConfig(const Model& model);

// The tensors to write, in canonical order: float tensors as they are, each quantized weight as
// its weight_packed / weight_scale / weight_zero_point / weight_shape tensors.
std::vector<std::pair<std::string, Tensor>> compressedTensorsCheckpointTensors(const Model& model);

}  // namespace slmc
