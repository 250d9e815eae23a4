// SentencePiece's tokenizer.model: a serialized sentencepiece.ModelProto (protobuf, proto2).
// slmc reads the protobuf wire format itself (no libprotobuf) and keeps only the fields that decide
// how text encodes: the pieces, a few TrainerSpec fields and the NormalizerSpec. Field numbers are
// those of sentencepiece's src/sentencepiece_model.proto:
//   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                    NormalizerSpec normalizer_spec = 3; }
//   SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
//   TrainerSpec    { ModelType model_type = 3; bool treat_whitespace_as_suffix = 24;
//                    bool byte_fallback = 35; int32 unk_id = 40, bos_id = 41, eos_id = 42; }
//   NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
//                    bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
// A SentencePiece BPE model whose settings match Llama's is then the vocabulary llama2.c exports
// to tokenizer.bin, and Llama2cTokenizer encodes it exactly (loadSentencePieceTokenizer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

class Llama2cTokenizer;

struct SentencePieceModel {
  enum PieceType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  enum ModelType : int32_t { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

  struct Piece {
    std::string text;  // with ▁ (U+2581) for whitespace, as stored
    float score = 0;
    int32_t type = kNormal;
  };

  std::vector<Piece> pieces;

  // Absent fields keep the proto2 defaults, as sentencepiece reads them.
  bool has_trainer_spec = false;
  int32_t model_type = kUnigram;
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  int32_t unk_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;

  bool has_normalizer_spec = false;
  std::string normalizer_name;
  size_t precompiled_charsmap_bytes = 0;  // non-empty: a normalization table is applied
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses the wire format of `bytes`. Throws Error naming `origin` and the byte offset of a
// truncated or malformed field. Checks structure only, not whether slmc can encode the model.
SentencePieceModel parseSentencePieceModel(std::string_view bytes, const std::string& origin);

// Reads `path` (tokenizer.model) and returns it as a tokenizer with kind "sentencepiece-bpe".
// Throws Error naming the path and the one setting slmc cannot honour exactly (a Unigram model,
// byte_fallback off, a normalizer, special ids other than 0/1/2, ...).
std::unique_ptr<Llama2cTokenizer> loadSentencePieceTokenizer(const std::string& path);

}  // namespace slmc
