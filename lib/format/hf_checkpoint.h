// Hugging Face model directories: config.json + model.safetensors (or a sharded index).
// Llama-family names are slmc's own; GPT-2's Conv1D weights ([in, out], q/k/v fused in c_attn)
// are split and transposed on import and put back on export, bit for bit.
#pragma once

#include <string>

#include "lib/model/model.h"

namespace slmc {

// Reads the directory into canonical tensor order; loadModel() validates the result.
Model loadHfDirectory(const std::string& dir);
// Writes config.json + model.safetensors into `dir` (created if missing), plus the tokenizer and
// generation files of the source directory when the model was loaded from one. Files are staged
// in a temporary folder and moved in only when all of them are complete.
void saveHfDirectory(const Model& model, const std::string& dir);

}  // namespace slmc
