// Karpathy's llama2.c checkpoint (`.bin`): the float32 legacy format (version 0: 7 int32 header,
// a positive vocab_size meaning the classifier shares the embedding) and the float32 version 1
// (magic "ak42", 256-byte header). q/k projections are stored in Meta's interleaved rotary
// layout and are permuted to Hugging Face's rotate-half layout on import.
#pragma once

#include <string>

#include "lib/model/model.h"

namespace slmc {

// Cheap check of the first bytes: does this file look like a llama2.c checkpoint?
bool looksLikeLlama2c(const std::string& path);
// Reads the file into canonical tensor order; loadModel() validates the result.
Model loadLlama2c(const std::string& path);

}  // namespace slmc
