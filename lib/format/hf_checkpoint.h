// Hugging Face model directories: config.json + model.safetensors (or a sharded index).
// Llama-family names are slmc's own; GPT-2's Conv1D weights ([in, out], q/k/v fused in c_attn)
// are split and transposed on import and put back on export, bit for bit.
#pragma once

#include <string>

#include "lib/model/model.h"

namespace slmc {

// How a quantized model's weights are stored (a float model is written the same either way):
//   Slmc:              slmc's own layout, which slmc loads back bit for bit (quantized_checkpoint.h)
//   CompressedTensors: compressed-tensors' pack-quantized, which transformers and vLLM load
//                      (compressed_tensors.h); refused for schemes it has no equivalent of
//   Gptq:              AutoGPTQ's qweight / qzeros / scales / g_idx, which transformers, vLLM,
//                      TGI and ExLlama load (gptq_checkpoint.h); refused likewise
enum class HfQuantFormat { Slmc, CompressedTensors, Gptq };
inline constexpr const char* kHfQuantFormats[] = {"slmc", "compressed-tensors", "gptq"};  // in enum order
inline const char* hfQuantFormatName(HfQuantFormat f) { return kHfQuantFormats[static_cast<int>(f)]; }
// One of kHfQuantFormats as the format; throws Error naming `what` and the choices otherwise.
HfQuantFormat parseHfQuantFormat(const std::string& text, const std::string& what = "--quant-format");

// Reads the directory into canonical tensor order; loadModel() validates the result.
Model loadHfDirectory(const std::string& dir);
// Writes config.json + model.safetensors into `dir` (created if missing), plus the tokenizer and
// generation files of the source directory when the model was loaded from one. Files are staged
// in a temporary folder and moved in only when all of them are complete; a model `quant_format`
// cannot hold is refused before anything is written.
void saveHfDirectory(const Model& model, const std::string& dir, HfQuantFormat quant_format = HfQuantFormat::Slmc);

}  // namespace slmc
