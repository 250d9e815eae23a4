#include "datasets/added_tokens.h"

#include <algorithm>

namespace slmc {

namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
}  // namespace

void AddedTokens::add(AddedToken token) {
  if (token.content.empty()) return;  // can never match
  auto& bucket = by_first_byte_[static_cast<unsigned char>(token.content[0])];
  tokens_.push_back(std::move(token));
  bucket.push_back(tokens_.size() - 1);
  std::stable_sort(bucket.begin(), bucket.end(),
                   [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

const AddedToken* AddedTokens::byId(int32_t id) const {
  for (const AddedToken& t : tokens_)
    if (t.id == id) return &t;
  return nullptr;
}

const AddedToken* AddedTokens::byContent(std::string_view content) const {
  for (const AddedToken& t : tokens_)
    if (t.content == content) return &t;
  return nullptr;
}

std::vector<AddedTokens::Segment> AddedTokens::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t plain = 0;  // start of the pending plain text
  for (size_t i = 0; i < text.size();) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (size_t k : bucket) {
      const std::string& c = tokens_[k].content;
      if (text.compare(i, c.size(), c) == 0) {
        hit = &tokens_[k];
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t before_end = i;
    if (hit->lstrip)
      while (before_end > plain && isSpace(text[before_end - 1])) --before_end;
    if (before_end > plain) out.push_back({text.substr(plain, before_end - plain), -1, plain});
    out.push_back({std::string_view(), hit->id, before_end});
    i += hit->content.size();
    if (hit->rstrip)
      while (i < text.size() && isSpace(text[i])) ++i;
    plain = i;
  }
  if (plain < text.size()) out.push_back({text.substr(plain), -1, plain});
  return out;
}

}  // namespace slmc
