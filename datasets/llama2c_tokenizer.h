// Karpathy's llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score,
// int32 byte length and the piece bytes (SentencePiece's pieces with ▁ exported as a space).
// Ids 0, 1, 2 are <unk>, BOS and EOS; ids 3..258 are the byte pieces <0x00>..<0xFF>. The same
// class encodes SentencePiece's tokenizer.model (fromPieces), whose pieces the export copies.
//
// Encoding follows run.c's encode(): a dummy-prefix space piece before non-empty text, one symbol
// per code point (unknown code points as byte pieces, id = byte + 3), then the adjacent pair whose
// concatenation is the highest-scoring piece merges, leftmost first on equal scores, until none
// does. run.c rescans the whole text per merge (O(n^2)); slmc applies the same rule with
// BpeMerges (O(n log n)) and per word when the vocabulary allows (see SentencePieceBpe).
//
// Deliberate differences from run.c, each to match sentencepiece on tokenizer.model:
//  - U+2581 (▁) in the input is whitespace, as in sentencepiece: it encodes like a space (run.c
//    finds no ▁ piece in the export and emits its three bytes), so it decodes to a space.
//  - Byte pieces and <unk>/<s>/</s> are never merge results or merge inputs: run.c would join
//    pieces whose concatenated text spells "<0x41>"; sentencepiece never merges into byte pieces.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "datasets/sentencepiece_bpe.h"
#include "datasets/tokenizer.h"

namespace slmc {

class Llama2cTokenizer final : public Tokenizer {
 public:
  // `expected_vocab` >= 0 (the model's vocab_size) also rejects a file that ends early on a token
  // boundary; without it the file is read to its end. Throws Error naming the path and offset.
  static std::unique_ptr<Llama2cTokenizer> load(const std::string& path, int64_t expected_vocab = -1);
  // The same vocabulary from another source, pieces already in the export's form (▁ as a space,
  // BOS/EOS as "\n<s>\n"/"\n</s>\n"): SentencePiece's tokenizer.model, with `kind`
  // "sentencepiece-bpe" (see sentencepiece_model.h). Needs at least 3 pieces, one score each.
  static std::unique_ptr<Llama2cTokenizer> fromPieces(std::vector<std::string> pieces, std::vector<float> scores,
                                                      std::string kind);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocabSize() const override { return static_cast<int64_t>(pieces_.size()); }
  int32_t bosId() const override { return 1; }
  int32_t eosId() const override { return 2; }
  std::string kind() const override { return kind_; }

  const std::string& piece(int32_t id) const { return pieces_.at(static_cast<size_t>(id)); }
  float score(int32_t id) const { return scores_.at(static_cast<size_t>(id)); }

 private:
  Llama2cTokenizer() = default;
  void build();  // byte pieces, code point table and the merge table from the pieces and scores

  std::string kind_ = "llama2c";
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<int16_t> byte_of_;  // byte value of a <0xNN> piece, -1 for other pieces
  int32_t space_id_ = -1;
  SentencePieceBpe bpe_;
};

}  // namespace slmc
