// SentencePiece-style BPE over code points, shared by the Hugging Face SentencePiece-style
// tokenizer.json and llama2.c's tokenizer.bin: every code point starts as its own symbol (a code
// point missing from the vocabulary becomes its UTF-8 bytes as <0xNN> pieces), then BpeMerges
// joins symbols. Text arrives already normalised (spaces as the whitespace piece's code point).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "datasets/bpe_merges.h"

namespace slmc {

class SentencePieceBpe {
 public:
  // How a text may be cut into pieces that BPE handles independently.
  enum class Split {
    kNone,        // the whole text is one BPE sequence
    kEverySpace,  // a new word starts at every whitespace symbol (Metaspace with split=true)
  };

  SentencePieceBpe() {
    ascii_.fill(-1);
    bytes_.fill(-1);
  }

  // The id a code point starts as (single-code-point pieces of the vocabulary).
  void setCodepoint(uint32_t codepoint, int32_t id);
  // The <0xNN> piece ids; byte fallback is on once all 256 are set.
  void setByteFallback(const std::array<int32_t, 256>& byte_ids);
  void setUnknown(int32_t id) { unknown_id_ = id; }
  BpeMerges& merges() { return merges_; }
  const BpeMerges& merges() const { return merges_; }

  // The whitespace piece (▁, or " " in llama2.c's export) and the split rule. With kNone, words
  // still encode independently when `pieces` (id → piece text) proves that no merge result
  // contains a non-whitespace code point followed by the whitespace one: then no merge can
  // join a symbol to a following run of whitespace, and cutting before each such run is exact.
  void setWhitespace(int32_t id, Split split, const std::vector<std::string>& pieces);

  // Appends the ids of `text` (valid UTF-8). `prefix_id` >= 0 is a symbol placed before the text
  // (llama2.c's dummy-prefix space).
  void encode(std::string_view text, int32_t prefix_id, std::vector<int32_t>& out) const;

  bool cutsAtWhitespaceRuns() const { return cut_at_runs_; }

 private:
  void encodeWord(const int32_t* symbols, size_t n, std::vector<int32_t>& out, BpeScratch& scratch,
                  std::vector<int32_t>& work) const;

  std::array<int32_t, 128> ascii_{};
  std::unordered_map<uint32_t, int32_t> codepoints_;
  std::array<int32_t, 256> bytes_{};
  bool byte_fallback_ = false;
  int32_t unknown_id_ = -1;
  int32_t whitespace_id_ = -1;
  Split split_ = Split::kNone;
  bool cut_at_runs_ = false;
  BpeMerges merges_;
};

}  // namespace slmc
