#include "datasets/sentencepiece_bpe.h"

#include <cstdio>

#include "datasets/utf8.h"
#include "lib/support/error.h"

namespace slmc {

void SentencePieceBpe::setCodepoint(uint32_t codepoint, int32_t id) {
  if (codepoint < 128)
    ascii_[codepoint] = id;
  else
    codepoints_[codepoint] = id;
}

void SentencePieceBpe::setByteFallback(const std::array<int32_t, 256>& byte_ids) {
  bytes_ = byte_ids;
  byte_fallback_ = true;
  for (int32_t id : bytes_) byte_fallback_ = byte_fallback_ && id >= 0;
}

void SentencePieceBpe::setWhitespace(int32_t id, Split split, const std::vector<std::string>& pieces) {
  whitespace_id_ = id;
  split_ = split;
  cut_at_runs_ = false;
  if (split != Split::kNone || id < 0 || id >= static_cast<int64_t>(pieces.size())) return;
  const std::string& ws = pieces[static_cast<size_t>(id)];
  size_t p = 0;
  if (ws.empty() || (nextCodepoint(ws, p), p != ws.size())) return;  // not a single code point
  // Every merge result is a vocabulary piece; it is enough that none holds "x▁" with x != ▁.
  cut_at_runs_ = true;
  for (const std::string& piece : pieces) {
    for (size_t at = piece.find(ws, 1); at != std::string::npos; at = piece.find(ws, at + ws.size())) {
      if (at < ws.size() || piece.compare(at - ws.size(), ws.size(), ws) != 0) {
        cut_at_runs_ = false;
        return;
      }
    }
  }
}

void SentencePieceBpe::encodeWord(const int32_t* symbols, size_t n, std::vector<int32_t>& out,
                                  BpeScratch& scratch, std::vector<int32_t>& work) const {
  work.assign(symbols, symbols + n);
  merges_.apply(work, scratch);
  out.insert(out.end(), work.begin(), work.end());
}

void SentencePieceBpe::encode(std::string_view text, int32_t prefix_id, std::vector<int32_t>& out) const {
  // Initial symbols: one per code point, or its bytes when the vocabulary lacks it.
  std::vector<int32_t> symbols;
  symbols.reserve(text.size() + 1);
  if (prefix_id >= 0) symbols.push_back(prefix_id);
  for (size_t pos = 0; pos < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c < 128 && ascii_[c] >= 0) {
      symbols.push_back(ascii_[c]);
      ++pos;
      continue;
    }
    const size_t start = pos;
    const uint32_t cp = nextCodepoint(text, pos);
    int32_t id = -1;
    if (cp < 128) {
      id = ascii_[cp];
    } else if (auto it = codepoints_.find(cp); it != codepoints_.end()) {
      id = it->second;
    }
    if (id >= 0) {
      symbols.push_back(id);
    } else if (byte_fallback_) {
      for (size_t k = start; k < pos; ++k) symbols.push_back(bytes_[static_cast<unsigned char>(text[k])]);
    } else if (unknown_id_ >= 0) {
      symbols.push_back(unknown_id_);
    } else {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", cp);
      throw Error(std::string("cannot encode code point ") + hex + " at byte offset " + std::to_string(start) +
                  ": the vocabulary has no piece for it, no byte fallback and no unknown token");
    }
  }

  BpeScratch scratch;
  std::vector<int32_t> work;
  const size_t n = symbols.size();
  if (split_ == Split::kNone && !cut_at_runs_) {
    encodeWord(symbols.data(), n, out, scratch, work);
    return;
  }
  // Words: cut before every whitespace symbol, or only before a run of them. Long texts repeat
  // words, so each distinct word is merged once per call (the cache lives only for this call,
  // which keeps encode const and thread-safe).
  const bool use_cache = n > 512;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> cached_ids;
  size_t begin = 0;
  for (size_t i = 1; i <= n; ++i) {
    if (i < n) {
      const bool cut = symbols[i] == whitespace_id_ &&
                       (split_ == Split::kEverySpace || symbols[i - 1] != whitespace_id_);
      if (!cut) continue;
    }
    const size_t len = i - begin;
    if (len == 1) {
      out.push_back(symbols[begin]);
    } else if (!use_cache) {
      encodeWord(symbols.data() + begin, len, out, scratch, work);
    } else {
      const std::string_view key(reinterpret_cast<const char*>(symbols.data() + begin), len * sizeof(int32_t));
      auto [it, inserted] = cache.try_emplace(key, 0u, 0u);
      if (inserted) {
        const size_t before = out.size();
        encodeWord(symbols.data() + begin, len, out, scratch, work);
        it->second = {static_cast<uint32_t>(cached_ids.size()), static_cast<uint32_t>(out.size() - before)};
        cached_ids.insert(cached_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
      } else {
        const int32_t* ids = cached_ids.data() + it->second.first;
        out.insert(out.end(), ids, ids + it->second.second);
      }
    }
    begin = i;
  }
}

}  // namespace slmc
