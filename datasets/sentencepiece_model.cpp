#include "datasets/sentencepiece_model.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "datasets/llama2c_tokenizer.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc {

namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

const char* wireName(uint32_t wire) {
  switch (wire) {
    case kVarint:
      return "varint";
    case kFixed64:
      return "64-bit";
    case kLengthDelimited:
      return "length-delimited";
    case kFixed32:
      return "32-bit";
    default:
      return "invalid";
  }
}

// One message of the wire format: bytes [begin, end) of the file. Offsets in errors are file
// offsets, so a user can find the bad byte with a hex dump.
class WireReader {
 public:
  struct Key {
    uint32_t field;
    uint32_t wire;
    size_t at;  // file offset of the key
  };

  WireReader(std::string_view file, size_t begin, size_t end, const std::string& origin, bool top_level)
      : file_(file), pos_(begin), end_(end), origin_(origin), top_level_(top_level) {}

  bool done() const { return pos_ >= end_; }

  Key key() {
    const size_t at = pos_;
    const uint64_t k = varint();
    const auto field = static_cast<uint32_t>(k >> 3);
    const auto wire = static_cast<uint32_t>(k & 7);
    // if/throw rather than require(): messages are built only on failure (this runs per field).
    if (field == 0 || k >> 32 != 0)
      throw Error(where(at) + " holds field number " + std::to_string(k >> 3) + ", outside 1..2^29-1: " + notModel());
    if (wire != kVarint && wire != kFixed64 && wire != kLengthDelimited && wire != kFixed32)
      throw Error(where(at) + " holds wire type " + std::to_string(wire) + " (field " + std::to_string(field) +
                  "), which SentencePiece models never use: " + notModel());
    return {field, wire, at};
  }

  uint64_t varint() {
    const size_t at = pos_;
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      need(1, at, "a varint");
      const auto byte = static_cast<uint8_t>(file_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    throw Error(where(at) + " holds a varint longer than 10 bytes: " + notModel());
  }

  // The [begin, end) file range of a length-delimited field's payload.
  std::pair<size_t, size_t> lengthDelimited() {
    const size_t at = pos_;
    const uint64_t len = varint();
    if (len > end_ - pos_) throw Error(tooShort(at, "a field of " + std::to_string(len) + " bytes"));
    const size_t begin = pos_;
    pos_ += static_cast<size_t>(len);
    return {begin, pos_};
  }
  std::string string() {
    const auto [begin, end] = lengthDelimited();
    return std::string(file_.substr(begin, end - begin));
  }

  float fixed32Float() {
    need(4, pos_, "a 4-byte float");
    float f = 0;
    std::memcpy(&f, file_.data() + pos_, 4);  // little-endian on every host slmc builds for
    pos_ += 4;
    return f;
  }

  // Field value as the int32 / enum / bool it declares (negative int32s are 10-byte varints).
  int32_t int32() { return static_cast<int32_t>(static_cast<uint32_t>(varint())); }
  bool boolean() { return varint() != 0; }

  void skip(const Key& k) {
    switch (k.wire) {
      case kVarint:
        varint();
        break;
      case kFixed64:
        need(8, pos_, "an 8-byte value");
        pos_ += 8;
        break;
      case kLengthDelimited:
        lengthDelimited();
        break;
      case kFixed32:
        need(4, pos_, "a 4-byte value");
        pos_ += 4;
        break;
      default:
        break;  // key() refused the others
    }
  }

  // A known field must have the wire type its declaration implies.
  void expect(const Key& k, uint32_t wire, const char* name) const {
    if (k.wire != wire)
      throw Error(where(k.at) + " holds " + name + " (field " + std::to_string(k.field) + ") as " + wireName(k.wire) +
                  ", expected " + wireName(wire) + ": " + notModel());
  }

 private:
  std::string where(size_t at) const {
    return "SentencePiece protobuf '" + origin_ + "' at byte offset " + std::to_string(at);
  }
  static std::string notModel() { return "the file is corrupt or not a SentencePiece tokenizer.model"; }

  void need(size_t n, size_t at, const char* what) const {
    if (n > end_ - pos_) throw Error(tooShort(at, what));
  }
  // Running past the file's end is truncation; past an enclosing message's end is corruption.
  std::string tooShort(size_t at, const std::string& what) const {
    if (top_level_)
      return "SentencePiece protobuf '" + origin_ + "' is truncated at byte offset " + std::to_string(at) + ": " +
             what + " runs past the end of the file (" + std::to_string(file_.size()) +
             " bytes); re-download tokenizer.model";
    return where(at) + ": " + what + " runs past the end of its enclosing message at byte offset " +
           std::to_string(end_) + ": " + notModel();
  }

  std::string_view file_;
  size_t pos_;
  size_t end_;
  const std::string& origin_;
  bool top_level_;
};

SentencePieceModel::Piece parsePiece(std::string_view file, std::pair<size_t, size_t> range,
                                     const std::string& origin) {
  SentencePieceModel::Piece p;
  WireReader r(file, range.first, range.second, origin, false);
  while (!r.done()) {
    const auto k = r.key();
    switch (k.field) {
      case 1:
        r.expect(k, kLengthDelimited, "SentencePiece.piece");
        p.text = r.string();
        break;
      case 2:
        r.expect(k, kFixed32, "SentencePiece.score");
        p.score = r.fixed32Float();
        break;
      case 3:
        r.expect(k, kVarint, "SentencePiece.type");
        p.type = r.int32();
        break;
      default:
        r.skip(k);
    }
  }
  return p;
}

void parseTrainerSpec(std::string_view file, std::pair<size_t, size_t> range, const std::string& origin,
                      SentencePieceModel& m) {
  WireReader r(file, range.first, range.second, origin, false);
  while (!r.done()) {
    const auto k = r.key();
    switch (k.field) {
      case 3:
        r.expect(k, kVarint, "TrainerSpec.model_type");
        m.model_type = r.int32();
        break;
      case 24:
        r.expect(k, kVarint, "TrainerSpec.treat_whitespace_as_suffix");
        m.treat_whitespace_as_suffix = r.boolean();
        break;
      case 35:
        r.expect(k, kVarint, "TrainerSpec.byte_fallback");
        m.byte_fallback = r.boolean();
        break;
      case 40:
        r.expect(k, kVarint, "TrainerSpec.unk_id");
        m.unk_id = r.int32();
        break;
      case 41:
        r.expect(k, kVarint, "TrainerSpec.bos_id");
        m.bos_id = r.int32();
        break;
      case 42:
        r.expect(k, kVarint, "TrainerSpec.eos_id");
        m.eos_id = r.int32();
        break;
      default:
        r.skip(k);
    }
  }
}

void parseNormalizerSpec(std::string_view file, std::pair<size_t, size_t> range, const std::string& origin,
                         SentencePieceModel& m) {
  WireReader r(file, range.first, range.second, origin, false);
  while (!r.done()) {
    const auto k = r.key();
    switch (k.field) {
      case 1:
        r.expect(k, kLengthDelimited, "NormalizerSpec.name");
        m.normalizer_name = r.string();
        break;
      case 2: {
        r.expect(k, kLengthDelimited, "NormalizerSpec.precompiled_charsmap");
        const auto [begin, end] = r.lengthDelimited();
        m.precompiled_charsmap_bytes = end - begin;
        break;
      }
      case 3:
        r.expect(k, kVarint, "NormalizerSpec.add_dummy_prefix");
        m.add_dummy_prefix = r.boolean();
        break;
      case 4:
        r.expect(k, kVarint, "NormalizerSpec.remove_extra_whitespaces");
        m.remove_extra_whitespaces = r.boolean();
        break;
      case 5:
        r.expect(k, kVarint, "NormalizerSpec.escape_whitespaces");
        m.escape_whitespaces = r.boolean();
        break;
      default:
        r.skip(k);
    }
  }
}

const char* pieceTypeName(int32_t type) {
  switch (type) {
    case SentencePieceModel::kNormal:
      return "NORMAL";
    case SentencePieceModel::kUnknown:
      return "UNKNOWN";
    case SentencePieceModel::kControl:
      return "CONTROL";
    case SentencePieceModel::kUserDefined:
      return "USER_DEFINED";
    case SentencePieceModel::kUnused:
      return "UNUSED";
    case SentencePieceModel::kByte:
      return "BYTE";
    default:
      return "unknown-type";
  }
}

std::string byteName(int value) {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", value);
  return name;
}

// Everything Llama2cTokenizer cannot honour exactly is refused here, one setting per message.
// "as Llama's" names the reference: Llama 2's tokenizer.model has every accepted setting.
void requireLlamaStyleBpe(const SentencePieceModel& m, const std::string& path) {
  const std::string where = "SentencePiece model '" + path + "'";
  switch (m.model_type) {
    case SentencePieceModel::kBpe:
      break;
    case SentencePieceModel::kUnigram:
      throw Error(where +
                  " is a Unigram model: Unigram SentencePiece models are not supported; slmc reads BPE "
                  "(model_type=BPE, as Llama's tokenizer.model)");
    case SentencePieceModel::kWord:
    case SentencePieceModel::kChar:
      throw Error(where + " is a " + (m.model_type == SentencePieceModel::kWord ? "WORD" : "CHAR") +
                  " model: only BPE SentencePiece models are supported (model_type=BPE, as Llama's)");
    default:
      throw Error(where + " has model_type " + std::to_string(m.model_type) +
                  ", not one sentencepiece defines: the file is corrupt; re-download it");
  }
  require(m.byte_fallback, where +
                               " was trained with byte_fallback off (unknown characters become <unk>): slmc "
                               "reads SentencePiece BPE models with byte_fallback=true, as Llama's");
  require(!m.treat_whitespace_as_suffix,
          where + " sets treat_whitespace_as_suffix: slmc reads models whose ▁ starts a word, as Llama's");
  require(m.unk_id == 0 && m.bos_id == 1 && m.eos_id == 2,
          where + " has unk/bos/eos ids " + std::to_string(m.unk_id) + "/" + std::to_string(m.bos_id) + "/" +
              std::to_string(m.eos_id) + ": slmc reads SentencePiece models with <unk>=0, <s>=1, </s>=2, as Llama's");
  const bool identity =
      m.precompiled_charsmap_bytes == 0 && (m.normalizer_name.empty() || m.normalizer_name == "identity");
  require(identity, where + " uses the '" + (m.normalizer_name.empty() ? "precompiled" : m.normalizer_name) +
                        "' normalizer (" + std::to_string(m.precompiled_charsmap_bytes) +
                        "-byte table): slmc applies no Unicode normalization and reads only 'identity' models, "
                        "as Llama's");
  require(m.add_dummy_prefix, where +
                                  " has add_dummy_prefix off: slmc's SentencePiece BPE always starts the text "
                                  "with ▁ and reads only models that do, as Llama's");
  require(!m.remove_extra_whitespaces,
          where +
              " has remove_extra_whitespaces on: slmc encodes whitespace as written and reads only models "
              "that keep it, as Llama's");
  require(m.escape_whitespaces, where +
                                    " has escape_whitespaces off: slmc reads only models that write "
                                    "whitespace as ▁, as Llama's");

  const size_t n = m.pieces.size();
  require(n >= 259, where + " holds " + std::to_string(n) +
                        " pieces; a byte-fallback model needs <unk>, <s>, </s> and 256 byte pieces at ids 0..258");
  const auto at = [&](size_t id) {
    return " piece " + std::to_string(id) + " '" + m.pieces[id].text + "' (" + pieceTypeName(m.pieces[id].type) + ")";
  };
  const char* expected_special[3] = {"the UNKNOWN piece <unk>", "the CONTROL piece <s>", "the CONTROL piece </s>"};
  for (size_t id = 0; id < 3; ++id)
    if (m.pieces[id].type != (id == 0 ? SentencePieceModel::kUnknown : SentencePieceModel::kControl))
      throw Error(where + " has" + at(id) + " where slmc expects " + expected_special[id] +
                  " (ids 0..2 are <unk>, <s>, </s>, as Llama's)");
  for (int b = 0; b < 256; ++b) {
    const size_t id = static_cast<size_t>(3 + b);
    if (m.pieces[id].type != SentencePieceModel::kByte || m.pieces[id].text != byteName(b))
      throw Error(where + " has" + at(id) + " where slmc expects the byte piece " + byteName(b) +
                  " (ids 3..258 are <0x00>..<0xFF>, as Llama's)");
  }
  // Sentencepiece matches USER_DEFINED pieces in the text and never merges into CONTROL, UNUSED
  // or BYTE pieces; the llama2.c encoder treats every piece after id 258 as a merge result.
  for (size_t id = 259; id < n; ++id)
    if (m.pieces[id].type != SentencePieceModel::kNormal)
      throw Error(where + " has" + at(id) +
                  ": slmc reads only NORMAL pieces after the 259 special and byte "
                  "pieces, as Llama's");
}

}  // namespace

SentencePieceModel parseSentencePieceModel(std::string_view bytes, const std::string& origin) {
  SentencePieceModel m;
  WireReader r(bytes, 0, bytes.size(), origin, true);
  while (!r.done()) {
    const auto k = r.key();
    switch (k.field) {
      case 1:
        r.expect(k, kLengthDelimited, "ModelProto.pieces");
        m.pieces.push_back(parsePiece(bytes, r.lengthDelimited(), origin));
        break;
      case 2:
        // Repeated occurrences of a sub-message merge field by field, as protobuf parsers do.
        r.expect(k, kLengthDelimited, "ModelProto.trainer_spec");
        parseTrainerSpec(bytes, r.lengthDelimited(), origin, m);
        m.has_trainer_spec = true;
        break;
      case 3:
        r.expect(k, kLengthDelimited, "ModelProto.normalizer_spec");
        parseNormalizerSpec(bytes, r.lengthDelimited(), origin, m);
        m.has_normalizer_spec = true;
        break;
      default:
        r.skip(k);
    }
  }
  // sentencepiece always writes all three. A file cut on a field boundary parses cleanly, and
  // without these checks would read as a default (Unigram) model.
  const std::string where = "SentencePiece protobuf '" + origin + "'";
  const std::string fix = ": the file is truncated or not a SentencePiece tokenizer.model; re-download it";
  require(!m.pieces.empty(), where + " holds no pieces" + fix);
  require(m.has_trainer_spec, where + " holds no trainer_spec" + fix);
  require(m.has_normalizer_spec, where + " holds no normalizer_spec" + fix);
  return m;
}

std::unique_ptr<Llama2cTokenizer> loadSentencePieceTokenizer(const std::string& path) {
  const auto file = MappedFile::open(path);
  require(file->size() > 0, "SentencePiece protobuf '" + path + "' is empty; re-download tokenizer.model");
  const SentencePieceModel m =
      parseSentencePieceModel(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()), path);
  requireLlamaStyleBpe(m, path);

  // The pieces as llama2.c's tokenizer.py exports them to tokenizer.bin, so that the llama2.c
  // encoder (which matches sentencepiece on these models) runs unchanged.
  std::vector<std::string> pieces;
  std::vector<float> scores;
  pieces.reserve(m.pieces.size());
  scores.reserve(m.pieces.size());
  static const std::string kMetaspace = "\xE2\x96\x81";  // ▁
  for (size_t id = 0; id < m.pieces.size(); ++id) {
    std::string text = m.pieces[id].text;
    if (static_cast<int32_t>(id) == m.bos_id) text = "\n<s>\n";
    if (static_cast<int32_t>(id) == m.eos_id) text = "\n</s>\n";
    for (size_t at = text.find(kMetaspace); at != std::string::npos; at = text.find(kMetaspace, at + 1))
      text.replace(at, kMetaspace.size(), " ");
    pieces.push_back(std::move(text));
    scores.push_back(m.pieces[id].score);
  }
  return Llama2cTokenizer::fromPieces(std::move(pieces), std::move(scores), "sentencepiece-bpe");
}

}  // namespace slmc
