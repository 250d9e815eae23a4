// Hugging Face's added tokens (tokenizer.json "added_tokens"): strings such as <s> or
// <|endoftext|> that are found verbatim in the raw text before any normalisation and become their
// own id, never split by BPE. Leftmost match first, longest first at the same position.
// `lstrip`/`rstrip` absorb the whitespace beside a match; `single_word` and `normalized` are
// not honoured (every content is matched verbatim in the raw text).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
};

class AddedTokens {
 public:
  struct Segment {
    std::string_view text;  // plain text to normalise and encode (empty when added_id >= 0)
    int32_t added_id;       // -1 for plain text
    size_t offset;          // byte offset of the segment in the input
  };

  void add(AddedToken token);
  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The added token with this id, or nullptr.
  const AddedToken* byId(int32_t id) const;
  const AddedToken* byContent(std::string_view content) const;

  // Cuts `text` into plain segments and added tokens, in order; plain segments are non-empty.
  std::vector<Segment> split(std::string_view text) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<size_t>, 256> by_first_byte_;  // candidate tokens, longest first
};

}  // namespace slmc
