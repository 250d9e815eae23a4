// A llama-architecture GGUF checkpoint (as llama.cpp's convert_hf_to_gguf.py writes it) as an
// slmc Model: llama.* metadata to ModelConfig, GGUF tensor names to Hugging Face's, dimensions
// reversed to PyTorch order, q/k rows permuted back to the rotate-half layout, and every
// quantized tensor dequantized to float32 (F32 / F16 / BF16 tensors keep their dtype).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "lib/model/model.h"

namespace slmc::gguf {

class GgufFile;

// Reads the file in canonical tensor order; loadModel() validates the result.
Model loadGgufModel(const std::string& path);
// The same from a file already opened (for tests and the fuzzer).
Model ggufToModel(const GgufFile& file);

// The Hugging Face names of the tensors `path` stores in a quantized type (every type but F32,
// F16 and BF16): float32 in memory after import, exactly dequantized (lib/format/float_dtype.h).
std::set<std::string> quantizedTensorNames(const std::string& path);

// The Hugging Face name of a llama GGUF tensor ("blk.3.attn_q.weight" →
// "model.layers.3.self_attn.q_proj.weight"), or nullopt when it is none slmc knows.
std::optional<std::string> hfTensorName(const std::string& gguf_name);
// The inverse: the llama GGUF name of a Hugging Face tensor name, or nullopt when llama has none.
std::optional<std::string> ggufTensorName(const std::string& hf_name);

}  // namespace slmc::gguf
