#include "datasets/llama2c_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "datasets/utf8.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc {

namespace {
constexpr int32_t kFirstByteId = 3;  // llama2.c: byte b is id b + 3
constexpr uint32_t kMetaspace = 0x2581;

bool isBytePiece(const std::string& piece, int value) {
  char expected[8];
  std::snprintf(expected, sizeof expected, "<0x%02X>", value);
  return piece == expected;
}
}  // namespace

std::unique_ptr<Llama2cTokenizer> Llama2cTokenizer::load(const std::string& path, int64_t expected_vocab) {
  const auto file = MappedFile::open(path);
  const auto* data = reinterpret_cast<const char*>(file->data());
  const size_t size = file->size();
  const std::string where = "llama2.c tokenizer '" + path + "'";
  require(size >= 4, where + " is truncated: " + std::to_string(size) +
                         " bytes, shorter than its 4-byte header; re-export it with llama2.c's tokenizer.py");
  int32_t max_len = 0;
  std::memcpy(&max_len, data, 4);
  require(max_len > 0 && max_len <= 4096, where + " has max_token_length " + std::to_string(max_len) +
                                              ", expected 1..4096: not a llama2.c tokenizer.bin");
  std::unique_ptr<Llama2cTokenizer> tok(new Llama2cTokenizer());
  size_t off = 4;
  while (off < size && (expected_vocab < 0 || static_cast<int64_t>(tok->pieces_.size()) < expected_vocab)) {
    // Messages are built only on failure: this loop runs once per token (32,000 for Llama 2).
    const auto token = [&] { return "token " + std::to_string(tok->pieces_.size()); };
    if (off + 8 > size)
      throw Error(where + " is truncated at byte offset " + std::to_string(off) + " inside " + token() +
                  "'s header; re-export or re-download it");
    float score = 0;
    int32_t len = 0;
    std::memcpy(&score, data + off, 4);
    std::memcpy(&len, data + off + 4, 4);
    off += 8;
    if (len < 0 || len > max_len)
      throw Error(where + " has " + token() + " of length " + std::to_string(len) + " at byte offset " +
                  std::to_string(off - 4) + ", outside 0.." + std::to_string(max_len) + ": the file is corrupt");
    if (off + static_cast<size_t>(len) > size)
      throw Error(where + " is truncated at byte offset " + std::to_string(size) + ": " + token() + " needs " +
                  std::to_string(len) + " bytes; re-export or re-download it");
    tok->pieces_.emplace_back(data + off, static_cast<size_t>(len));
    tok->scores_.push_back(score);
    off += static_cast<size_t>(len);
  }
  if (expected_vocab >= 0)
    require(static_cast<int64_t>(tok->pieces_.size()) == expected_vocab,
            where + " holds " + std::to_string(tok->pieces_.size()) + " tokens but the model's vocab_size is " +
                std::to_string(expected_vocab) + ": the file is truncated or belongs to another model");
  require(tok->pieces_.size() >= 3, where + " holds " + std::to_string(tok->pieces_.size()) +
                                        " tokens; it needs at least <unk>, <s>, </s>: the file is truncated");
  tok->build();
  return tok;
}

std::unique_ptr<Llama2cTokenizer> Llama2cTokenizer::fromPieces(std::vector<std::string> pieces,
                                                               std::vector<float> scores, std::string kind) {
  require(pieces.size() == scores.size(), "a " + kind + " vocabulary has " + std::to_string(pieces.size()) +
                                              " pieces but " + std::to_string(scores.size()) +
                                              " scores: every piece needs one");
  require(pieces.size() >= 3, "a " + kind + " vocabulary holds " + std::to_string(pieces.size()) +
                                  " pieces; it needs at least <unk>, <s>, </s>");
  std::unique_ptr<Llama2cTokenizer> tok(new Llama2cTokenizer());
  tok->kind_ = std::move(kind);
  tok->pieces_ = std::move(pieces);
  tok->scores_ = std::move(scores);
  tok->build();
  return tok;
}

void Llama2cTokenizer::build() {
  const size_t n = pieces_.size();
  byte_of_.assign(n, -1);
  std::array<int32_t, 256> byte_ids{};
  bool has_bytes = n >= static_cast<size_t>(kFirstByteId + 256);
  for (int b = 0; has_bytes && b < 256; ++b) has_bytes = isBytePiece(pieces_[static_cast<size_t>(kFirstByteId + b)], b);
  if (has_bytes) {
    for (int b = 0; b < 256; ++b) {
      byte_ids[static_cast<size_t>(b)] = kFirstByteId + b;
      byte_of_[static_cast<size_t>(kFirstByteId + b)] = static_cast<int16_t>(b);
    }
    bpe_.setByteFallback(byte_ids);
  }
  // Pieces that take part in BPE: not <unk>/<s>/</s>, not byte pieces.
  const auto mergeable = [&](size_t id) { return id >= 3 && byte_of_[id] < 0; };

  std::unordered_map<std::string, int32_t> by_text;
  by_text.reserve(n);
  for (size_t id = 0; id < n; ++id)
    if (mergeable(id)) by_text.emplace(pieces_[id], static_cast<int32_t>(id));  // first wins, as bsearch finds one
  for (const auto& [text, id] : by_text) {
    size_t pos = 0;
    if (text.empty()) continue;
    const uint32_t cp = nextCodepoint(text, pos);
    if (pos == text.size() && findInvalidUtf8(text) == std::string::npos) bpe_.setCodepoint(cp, id);
  }
  const auto space = by_text.find(" ");
  space_id_ = space == by_text.end() ? -1 : space->second;
  if (space_id_ >= 0) bpe_.setCodepoint(kMetaspace, space_id_);

  // Rank = position of the merged piece's score among the distinct scores, highest first:
  // run.c keeps the first pair with a strictly better score, so equal scores tie on position.
  std::vector<float> distinct;
  for (size_t id = 0; id < n; ++id)
    if (mergeable(id)) distinct.push_back(scores_[id]);
  std::sort(distinct.begin(), distinct.end(), [](float a, float b) { return a > b; });
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const auto rankOf = [&](float s) {
    return static_cast<uint32_t>(std::lower_bound(distinct.begin(), distinct.end(), s, [](float a, float b) {
                                   return a > b;
                                 }) - distinct.begin());
  };
  // Every way to cut a piece into two pieces is a merge that produces it.
  for (const auto& [text, id] : by_text) {
    for (size_t cut = 1; cut < text.size(); ++cut) {
      const auto left = by_text.find(text.substr(0, cut));
      if (left == by_text.end()) continue;
      const auto right = by_text.find(text.substr(cut));
      if (right == by_text.end()) continue;
      bpe_.merges().add(left->second, right->second, rankOf(scores_[static_cast<size_t>(id)]), id);
    }
  }
  bpe_.setWhitespace(space_id_, SentencePieceBpe::Split::kNone, pieces_);
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text, bool add_bos) const {
  requireValidUtf8(text, "the text to encode");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos) ids.push_back(bosId());
  if (!text.empty()) bpe_.encode(text, space_id_, ids);
  return ids;
}

std::string Llama2cTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool at_start = true;
  for (int32_t id : ids) {
    require(id >= 0 && static_cast<size_t>(id) < pieces_.size(),
            "cannot decode token id " + std::to_string(id) + ": the " +
                (kind_ == "llama2c" ? "llama2.c" : "SentencePiece") + " vocabulary has " +
                std::to_string(pieces_.size()) + " tokens");
    if (id < 3) continue;  // <unk>, BOS, EOS
    const size_t i = static_cast<size_t>(id);
    if (byte_of_[i] >= 0) {
      out += static_cast<char>(byte_of_[i]);
    } else {
      const std::string& p = pieces_[i];
      // run.c drops the space after BOS; slmc drops the dummy prefix at the start of the text.
      out.append(at_start && !p.empty() && p[0] == ' ' ? p.substr(1) : p);
    }
    at_start = false;
  }
  return out;
}

}  // namespace slmc
