// A GGUF's tokenizer (its tokenizer.ggml.* keys) as the tokenizer.json + tokenizer_config.json that
// Hugging Face's tokenizers would build from the same vocabulary, as llama.cpp's gguf-to-HF tools
// do. The pre-tokenizer written for each tokenizer.ggml.pre reproduces llama.cpp's own split for
// that type (src/llama-vocab.cpp, regex_exprs per LLAMA_VOCAB_PRE_TYPE_*), so slmc's HF reader
// gives the ids llama.cpp gives.
//
// Filling GgufTokenizerMetadata from a GgufFile lives with the GGUF reader; this file only needs the
// values, so it can be tested with small synthetic vocabularies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slmc::gguf {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum GgufTokenType : int64_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

struct GgufTokenizerMetadata {  // the tokenizer.ggml.* keys of a GGUF, read by the caller
  std::string model;            // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
  std::string pre;              // tokenizer.ggml.pre: "smollm", "llama-bpe", "qwen2", "gpt-2", "default", ...
  std::vector<std::string> tokens;
  std::vector<int64_t> token_types;  // GgufTokenType; empty: all normal
  std::vector<float> scores;         // SentencePiece: higher merges first
  std::vector<std::string> merges;   // BPE "a b"
  int64_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::optional<bool> add_bos, add_eos;  // tokenizer.ggml.add_bos_token / add_eos_token
  std::optional<bool> add_space_prefix;  // tokenizer.ggml.add_space_prefix (kept by GGUF exports)
  std::string chat_template;             // tokenizer.chat_template
};

struct HfTokenizerFiles {
  std::string tokenizer_json, tokenizer_config_json;

  // (file name, text) of each, as a Hugging Face directory holds them: what exports write.
  std::vector<std::pair<std::string, std::string>> named() const {
    return {{"tokenizer.json", tokenizer_json}, {"tokenizer_config.json", tokenizer_config_json}};
  }
};

// The two files' text. `origin` names the GGUF in errors. Throws Error naming an unknown `pre` or
// model type, or metadata that does not hang together (token_types / scores of another length,
// a special id outside the vocabulary).
HfTokenizerFiles hfTokenizerFiles(const GgufTokenizerMetadata& m, const std::string& origin);

// The tokenizer.ggml.pre values hfTokenizerFiles maps (for messages and tests).
std::vector<std::string> supportedGgufPreTokenizers();
// The tokenizer.json "pre_tokenizer" (JSON text) hfTokenizerFiles writes for a byte-level
// vocabulary with that tokenizer.ggml.pre; throws Error for a value it does not map. The reverse
// direction (lib/format/gguf/gguf_tokenizer_from_hf.h) matches a tokenizer.json against these.
std::string hfPreTokenizerJson(const std::string& pre);

class GgufFile;
// The tokenizer.ggml.* keys (and tokenizer.chat_template) of an opened GGUF. Throws Error naming the
// file when it holds no tokenizer.
GgufTokenizerMetadata tokenizerMetadata(const GgufFile& file);
// tokenizerMetadata + hfTokenizerFiles for the GGUF at `path`: what slmc exports and packs beside it.
HfTokenizerFiles hfTokenizerFilesOf(const std::string& path);

}  // namespace slmc::gguf
