// A quantized model's Hugging Face directory in AutoGPTQ's checkpoint layout
// (`slmc export --format hf --quant-format gptq`), which transformers (optimum / auto-gptq,
// gptqmodel), vLLM, TGI and ExLlama load.
//
// config.json's quantization_config:
//   {"quant_method": "gptq", "bits": 4, "group_size": 32 (-1: per-channel), "sym": true,
//    "desc_act": false, "static_groups": false, "checkpoint_format": "gptq", "lm_head": false}
// One scheme for the whole model: GPTQ's config has a single bits / group_size / sym, and the
// loader replaces every Linear of the decoder blocks (not lm_head) with a quantized one.
//
// Tensors, per quantized linear L (slmc weight L.weight, [rows, cols] = [out, in]):
//   L.qweight  I32 [cols / k, rows]    k = 32 / bits codes per int32 down the input dimension
//                                      (the weight transposed to [in, out]), the first in the
//                                      lowest bits
//   L.qzeros   I32 [groups, rows / k]  each group's zero points minus one, packed the same way
//                                      along the output dimension
//   L.scales   F16 [groups, rows]
//   L.g_idx    I32 [cols]              the group of each input column: c / group_size (0 per-channel)
// Every other tensor is written as the float export writes it.
//
// GPTQ dequantizes w = scale * (q - (stored_zero + 1)) ("gptq" v1 checkpoints store zero - 1, a
// quirk loaders keep for compatibility), which is slmc's (q - zero) * scale for the same unsigned
// code q and float16 scale: the export is exact. What this layout cannot hold is refused
// (gptqExportability()): widths other than 2, 4 and 8 (3-bit GPTQ packs codes across word
// boundaries), more than one scheme, a quantized embedding or lm_head, a block Linear left float,
// quantized activations, GPT-2's Conv1D weights, dimensions not a multiple of 32 / bits, and an
// asymmetric zero of 0 (stored as -1).
//
// slmc also reads such checkpoints (gptqmodel's "gptq_v2", zeros stored as they are, too), so a
// GPTQ model from the Hub can be evaluated, pruned, packed or exported by slmc, and an export
// comes back bit for bit. Act-order checkpoints whose g_idx is not c / group_size (desc_act with
// the permutation kept) and 3-bit ones are refused: slmc's groups are runs of columns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

struct GptqExportability {
  bool possible = false;
  // What is written ("30 int4-g32-sym, exact"), or the first obstacle, naming the tensor, its
  // scheme and the formats it can go to.
  std::string detail;
};

// Whether the model's quantized weights can be written as a GPTQ checkpoint. A float model can
// (it has no quantized weights to convert).
GptqExportability gptqExportability(const Model& model);

// The `quantization_config` object for config.json. Throws Error (the exportability detail)
// when the model cannot be written as GPTQ.
nlohmann::json gptqQuantizationConfig(const Model& model);

// The tensors to write, in canonical order: float tensors as they are, each quantized weight as
// its qweight / qzeros / scales / g_idx tensors.
std::vector<std::pair<std::string, Tensor>> gptqCheckpointTensors(const Model& model);

// The quant_method of GPTQ's quantization_config.
inline constexpr const char* kGptqQuantMethod = "gptq";

// Rebuilds a GPTQ checkpoint's quantized weights (consumed from `raw`, the other tensors stay)
// into `model`, whose config is set; `origin` names the directory in errors.
void importGptqTensors(const nlohmann::json& quantization_config, std::vector<std::pair<std::string, Tensor>>& raw,
                       Model& model, const std::string& origin);

}  // namespace slmc
