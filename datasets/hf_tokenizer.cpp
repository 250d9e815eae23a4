// Running a Hugging Face BPE tokenizer.json: encode (added tokens → normalise / pre-tokenize →
// BPE) and decode. Reading the file is in hf_tokenizer_load.cpp.
#include "datasets/hf_tokenizer.h"

#include "datasets/byte_level.h"
#include "datasets/utf8.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace {
// Texts longer than this remember each distinct pre-tokenized word's ids for the rest of the
// call; shorter ones gain nothing from it.
constexpr size_t kCacheFromBytes = 2048;
}  // namespace

std::vector<int32_t> HfBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  return encode(text, add_bos, true);
}

std::vector<int32_t> HfBpeTokenizer::encode(std::string_view text, bool add_bos, bool match_added_tokens) const {
  requireValidUtf8(text, "the text to encode");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  const auto plain = [&](std::string_view segment, bool first) {
    if (byte_level_)
      encodeByteLevel(segment, ids);
    else
      encodeSentencePiece(segment, first, ids);
  };
  if (added_.empty() || !match_added_tokens) {
    if (!text.empty()) plain(text, true);
    return ids;
  }
  for (const AddedTokens::Segment& s : added_.split(text)) {
    if (s.added_id >= 0)
      ids.push_back(s.added_id);
    else
      plain(s.text, s.offset == 0);
  }
  return ids;
}

void HfBpeTokenizer::encodeByteLevel(std::string_view text, std::vector<int32_t>& out) const {
  std::string normalized;
  if (!normalizer_.empty()) {
    normalized = normalizer_.apply(text);
    text = normalized;
  }
  BpeScratch scratch;
  std::vector<int32_t> symbols;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> cached_ids;
  const bool use_cache = text.size() >= kCacheFromBytes;
  std::string mapped;

  const auto word = [&](std::string_view w) {
    if (w.empty()) return;
    if (use_cache) {
      if (const auto it = cache.find(w); it != cache.end()) {
        const int32_t* p = cached_ids.data() + it->second.first;
        out.insert(out.end(), p, p + it->second.second);
        return;
      }
    }
    const size_t before = out.size();
    bool whole = false;
    if (ignore_merges_) {  // the word is looked up whole before any merge (Llama 3)
      mapped.clear();
      for (unsigned char b : w) mapped += bytePiece(b);
      if (const int32_t id = idOf(mapped); id >= 0) {
        out.push_back(id);
        whole = true;
      }
    }
    if (!whole) {
      symbols.clear();
      for (unsigned char b : w)
        if (byte_ids_[b] >= 0) symbols.push_back(byte_ids_[b]);
      merges_.apply(symbols, scratch);
      out.insert(out.end(), symbols.begin(), symbols.end());
    }
    if (use_cache) {
      cache.emplace(w, std::make_pair(static_cast<uint32_t>(cached_ids.size()), static_cast<uint32_t>(out.size() - before)));
      cached_ids.insert(cached_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    }
  };
  PreTokenizer::Scratch pieces;
  for (std::string_view w : pre_tokenizer_.run(text, pieces)) word(w);
}

void HfBpeTokenizer::encodeSentencePiece(std::string_view text, bool first_segment, std::vector<int32_t>& out) const {
  std::string normalized = normalizer_.apply(text);
  if (metaspace_) {
    replaceAll(normalized, " ", metaspace_char_);
    const bool prepend = metaspace_prepend_ == Prepend::kAlways || (metaspace_prepend_ == Prepend::kFirst && first_segment);
    if (prepend && !normalized.empty() && normalized.compare(0, metaspace_char_.size(), metaspace_char_) != 0)
      normalized.insert(0, metaspace_char_);
  }
  if (!normalized.empty()) sp_.encode(normalized, -1, out);
}

std::string HfBpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    require(id >= 0 && static_cast<size_t>(id) < pieces_.size(),
            "cannot decode token id " + std::to_string(id) + ": the vocabulary has " + std::to_string(pieces_.size()) +
                " tokens");
    const size_t i = static_cast<size_t>(id);
    if (added_kind_[i] == kSpecial) continue;
    const std::string& piece = pieces_[i];
    if (added_kind_[i] == kAddedText) {
      out += piece;
    } else if (byte_level_) {
      for (size_t pos = 0; pos < piece.size();) {
        const uint32_t cp = nextCodepoint(piece, pos);
        const int b = byteOfCodepoint(cp);
        if (b >= 0)
          out += static_cast<char>(b);
        else
          appendUtf8(out, cp);
      }
    } else if (byte_of_[i] >= 0) {
      out += static_cast<char>(byte_of_[i]);
    } else {
      std::string p = piece;
      replaceAll(p, metaspace_char_, " ");
      out += p;
    }
  }
  if (!byte_level_) {
    size_t strip = 0;
    while (strip < static_cast<size_t>(strip_leading_spaces_) && strip < out.size() && out[strip] == ' ') ++strip;
    out.erase(0, strip);
  }
  return out;
}

}  // namespace slmc
