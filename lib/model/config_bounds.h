// What a checkpoint's config may claim, checked against the weights its file actually holds
// before anything is sized from the config. A damaged or hostile config.json (or llama2.c / GGUF
// header) that claims a billion layers must end in one error line, not in the model checks
// enumerating a billion expected tensors or a reader allocating for them.
#pragma once

#include <cstdint>
#include <string>

#include "lib/model/model_config.h"

namespace slmc {

// The parameters the config implies (every weight and bias of expectedTensors), saturating at
// UINT64_MAX instead of overflowing.
uint64_t impliedParameterCount(const ModelConfig& config);

// Throws Error naming `origin` and the field when the config claims more layers than the file has
// tensors, or more parameters than `tensor_bytes` could hold at the densest storage slmc reads
// (2-bit codes; 1 bit per weight is allowed for slack). `field_names` chooses how fields are named
// in the message ("num_hidden_layers" for config.json, "n_layers" for llama2.c, …).
struct ConfigFieldNames {
  const char* layers = "num_hidden_layers";
  const char* hidden = "hidden_size";
  const char* intermediate = "intermediate_size";
  const char* vocab = "vocab_size";
};
void checkConfigFitsWeights(const ModelConfig& config, uint64_t tensor_count, uint64_t tensor_bytes,
                            const std::string& origin, const ConfigFieldNames& field_names = {});

}  // namespace slmc
