// Text ↔ token ids. One interface over the tokenizer formats slmc reads:
//  - Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2 style) or
//    SentencePiece-style (metaspace ▁, byte fallback <0x..>, merges by rank);
//  - Karpathy's llama2.c tokenizer.bin (score-ordered merges);
//  - SentencePiece BPE tokenizer.model (protobuf), read into the same encoder as tokenizer.bin.
// Tokenizers are LibTorch-free and immutable after loading: encode/decode are const and
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Ids of `text` (UTF-8). `add_bos` prepends the BOS id when the tokenizer has one. Invalid UTF-8
  // throws Error naming the byte offset.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // Text of `ids`; special tokens (BOS/EOS/added specials) are skipped, byte-fallback pieces
  // are reassembled into UTF-8, ▁ becomes a space (and the leading prefix space is dropped).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;

  virtual int64_t vocabSize() const = 0;
  virtual int32_t bosId() const = 0;  // -1 when the tokenizer has none
  virtual int32_t eosId() const = 0;  // -1 when the tokenizer has none
  // Whether the model's own pipeline prepends BOS to a text (Hugging Face: add_special_tokens;
  // tokenizer_config.json add_bos_token or the post-processor). Llama-style SentencePiece and
  // llama2.c tokenizers do whenever they have a BOS; SmolLM2's and GPT-2's do not.
  virtual bool addsBosByDefault() const { return bosId() >= 0; }
  // "hf-bpe-byte-level", "hf-bpe-sentencepiece", "llama2c" or "sentencepiece-bpe"; recorded in
  // dataset provenance.
  virtual std::string kind() const = 0;
};

// Loads a tokenizer from a tokenizer.json, a llama2.c tokenizer.bin, or a model directory that
// holds tokenizer.json. Throws Error naming the file and what is unsupported (e.g. a WordPiece
// or Unigram tokenizer.json).
std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path);

}  // namespace slmc
