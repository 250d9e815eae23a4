// A test-only tokenizer with ids anyone can compute by hand: byte b -> id b + 3, BOS = 1,
// EOS = 2. Bytes >= 0x80 are rejected as "invalid UTF-8" (enough to test error plumbing).
#pragma once

#include <string>
#include <vector>

#include "datasets/tokenizer.h"
#include "lib/support/error.h"

namespace slmc::test {

class ByteTokenizer final : public Tokenizer {
 public:
  explicit ByteTokenizer(bool has_bos = true) : has_bos_(has_bos) {}
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> ids;
    if (add_bos && has_bos_) ids.push_back(1);
    for (size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte >= 0x80) throw Error("invalid UTF-8 at byte " + std::to_string(i));
      ids.push_back(byte + 3);
    }
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string text;
    for (int32_t id : ids)
      if (id >= 3) text += static_cast<char>(id - 3);
    return text;
  }
  int64_t vocabSize() const override { return 259; }
  int32_t bosId() const override { return has_bos_ ? 1 : -1; }
  int32_t eosId() const override { return 2; }
  std::string kind() const override { return "test-bytes"; }

 private:
  bool has_bos_;
};

// The ids ByteTokenizer gives `text` without BOS.
inline std::vector<int32_t> byteIds(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c + 3);
  return ids;
}

}  // namespace slmc::test
