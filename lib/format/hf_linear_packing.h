// What the Hugging Face quantized layouts (compressed_tensors.h, gptq_checkpoint.h) share: which
// weights are torch.nn.Linear modules there, their module names, and the int32 bit packing both
// use for codes and zero points.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

// "model.layers.0.mlp.up_proj.weight" -> "model.layers.0.mlp.up_proj".
std::string hfModuleOf(const std::string& weight);

// The weights of the Hugging Face model's Linear modules: every 2-D weight except the embeddings,
// and lm_head even when it is tied (transformers still builds the module, and a "Linear" target
// would match it).
std::vector<std::string> hfLinearWeights(const Model& model);

// Why `model` cannot go to a weight-only layout of Linear modules, or "" when it can as far as
// these two go: a quantized input ("'<name>' has int8 quantized inputs, and <weight_only> weight-only
// (<alternatives>)"), or GPT-2's Conv1D weights ("'<name>' is a GPT-2 Conv1D weight, <gpt2>
// (<alternatives>)").
std::string hfWeightOnlyRefusal(const Model& model, const std::string& weight_only, const std::string& gpt2,
                                const std::string& alternatives);

// Packs `rows` runs of `cols` unsigned `bits`-bit values (row-major) into int32 words, 32 / bits
// per word along each run, the first value in the lowest bits; a run's last word is padded with
// zero bits. (compressed-tensors' pack_to_int32 and AutoGPTQ's pack both lay words out so.)
std::vector<int32_t> packInt32Runs(const std::vector<uint8_t>& values, int64_t rows, int64_t cols, int bits);

// The [cols, rows] transpose of a row-major [rows, cols] matrix.
std::vector<uint8_t> transposed(const std::vector<uint8_t>& values, int64_t rows, int64_t cols);
std::vector<int32_t> transposed(const std::vector<int32_t>& values, int64_t rows, int64_t cols);

}  // namespace slmc
