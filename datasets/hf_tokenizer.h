// Hugging Face tokenizer.json with a BPE model, in its two common shapes:
//  - byte-level (GPT-2, SmolLM2, Llama 3, Qwen2 style): text → normalizers (NFC, Lowercase, ...)
//    → pre-tokenizers (Split, Digits, Punctuation, Whitespace, ByteLevel, ...) → bytes mapped to
//    GPT-2's printable alphabet → BPE by merge rank;
//  - SentencePiece-style (Llama 2, Mistral style): normaliser Prepend("▁") + Replace(" ", "▁") or a
//    Metaspace pre-tokenizer → one symbol per code point, <0xNN> byte fallback → BPE by rank.
// Added tokens (<s>, <|endoftext|>, ...) are matched verbatim in the raw text first, never split.
//
// Reading the file lives in hf_tokenizer_load.cpp, running it in hf_tokenizer.cpp.
//
// Round trip: decode(encode(t)) == t for any UTF-8 t, except that (SentencePiece-style) the
// code point U+2581 ▁ in the input decodes as a space, as in sentencepiece; and added special
// tokens written in the text (e.g. "<s>") are encoded as their id and skipped by decode.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "datasets/added_tokens.h"
#include "datasets/bpe_merges.h"
#include "datasets/normalizer.h"
#include "datasets/pre_tokenizer.h"
#include "datasets/sentencepiece_bpe.h"
#include "datasets/tokenizer.h"

namespace slmc {

class HfBpeTokenizer final : public Tokenizer {
 public:
  // Reads `path` (a tokenizer.json) and tokenizer_config.json beside it when present. Throws
  // Error naming the file and the unsupported part (model type, normaliser, pre-tokenizer).
  static std::unique_ptr<HfBpeTokenizer> load(const std::string& path);
  // The same from text in memory (e.g. a tokenizer.json written from a GGUF's vocabulary);
  // `tokenizer_config_json` is "" when there is none; errors name `origin`.
  static std::unique_ptr<HfBpeTokenizer> fromJson(const std::string& tokenizer_json,
                                                  const std::string& tokenizer_config_json,
                                                  const std::string& origin);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  // With `match_added_tokens` false, added tokens written in the text (<|im_start|>, ...) are not
  // matched: the whole text is normalised and tokenized as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool match_added_tokens) const;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocabSize() const override { return static_cast<int64_t>(pieces_.size()); }
  int32_t bosId() const override { return bos_id_; }
  int32_t eosId() const override { return eos_id_; }
  std::string kind() const override { return byte_level_ ? "hf-bpe-byte-level" : "hf-bpe-sentencepiece"; }

  // Whether the checkpoint's own pipeline prepends BOS (tokenizer_config.json add_bos_token, or a
  // TemplateProcessing post-processor that starts with a special token).
  bool addsBosByDefault() const override { return adds_bos_by_default_; }
  // The piece text of an id (vocabulary or added token); "" for ids no entry names.
  const std::string& piece(int32_t id) const { return pieces_.at(static_cast<size_t>(id)); }
  // -1 when `piece` is not in the vocabulary or the added tokens.
  int32_t idOf(const std::string& piece) const;

 private:
  HfBpeTokenizer() = default;

  enum class Prepend { kNever, kFirst, kAlways };

  void encodeByteLevel(std::string_view text, std::vector<int32_t>& out) const;
  void encodeSentencePiece(std::string_view text, bool first_segment, std::vector<int32_t>& out) const;

  // Shared.
  std::vector<std::string> pieces_;  // id → text
  enum : uint8_t { kModelPiece = 0, kSpecial = 1, kAddedText = 2 };
  std::vector<uint8_t> added_kind_;  // id → how decode treats it: skipped, verbatim, or a model piece
  std::unordered_map<std::string, int32_t> ids_;
  AddedTokens added_;
  BpeMerges merges_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool adds_bos_by_default_ = false;
  bool byte_level_ = false;
  bool ignore_merges_ = false;
  Normalizer normalizer_;  // applied to each plain segment

  // Byte-level shape.
  PreTokenizer pre_tokenizer_;
  std::array<int32_t, 256> byte_ids_{};

  // SentencePiece-style shape.
  bool metaspace_ = false;
  std::string metaspace_char_ = "\xE2\x96\x81";  // ▁
  Prepend metaspace_prepend_ = Prepend::kNever;
  std::vector<int16_t> byte_of_;  // byte value of a <0xNN> piece, -1 otherwise
  int strip_leading_spaces_ = 0;  // decoder Strip / Metaspace: the prefix space added by encode
  SentencePieceBpe sp_;

  friend struct HfTokenizerReader;
};

}  // namespace slmc
