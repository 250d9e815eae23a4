// A Hugging Face byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) as GGUF
// tokenizer.ggml.* metadata, as llama.cpp's convert_hf_to_gguf.py writes it: model "gpt2", the
// `pre` whose split is the tokenizer.json's pre-tokenizer, tokens in id order (ids with no token
// padded as "[PAD<id>]", unused), token types (special added tokens control, other added tokens
// user-defined), merges as "a b", the special ids, add_bos/add_eos and the chat template.
// The inverse of lib/format/gguf/gguf_tokenizer.h's hfTokenizerFiles: the pre-tokenizer is matched
// against exactly the ones that function writes, so each direction reproduces the other.
#pragma once

#include <string>

#include "lib/format/gguf/gguf_tokenizer.h"

namespace slmc::gguf {

// `tokenizer_config_json` may be empty (no tokenizer_config.json). `origin` names the files in
// errors. Throws Error for a tokenizer that is not byte-level BPE (SentencePiece-style
// tokenizer.json has no scores for a GGUF "llama" vocabulary), or whose pre-tokenizer matches
// no tokenizer.ggml.pre that llama.cpp knows.
GgufTokenizerMetadata ggufTokenizerFromHf(const std::string& tokenizer_json, const std::string& tokenizer_config_json,
                                          const std::string& origin);

}  // namespace slmc::gguf
