// One entry point for every checkpoint format slmc reads: a Hugging Face directory, or a
// llama2.c .bin file, a llama.cpp GGUF, or a .slmc pack. The format is detected from what is on disk, not from the name alone.
#pragma once

#include <string>

#include "lib/model/model.h"

namespace slmc {

// Loads and validates a model; throws Error naming the path and the fix on any problem.
Model loadModel(const std::string& path);

// Where a model given as `path` lives as a whole: the Hugging Face directory of a config.json or
// .safetensors named inside it, else `path` itself. What an output must not replace.
std::string modelLocation(const std::string& path);

}  // namespace slmc
