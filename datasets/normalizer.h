// Hugging Face tokenizers' normalizers: a sequence of steps that rewrite each plain segment of
// the text (between added tokens) before pre-tokenization, with the semantics of
// tokenizers/src/normalizers/*.rs:
//   NFC / NFD / NFKC / NFKD      Unicode normalization forms (utf8proc)
//   Lowercase                    Rust char::to_lowercase per code point
//   Strip(left, right)           White_Space at the ends
//   StripAccents                 removes combining marks (M*)
//   Prepend(text)                text before a non-empty segment
//   Replace(pattern → content)   every non-overlapping match of a string or a regex
// Immutable once built: apply() is const and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

class Normalizer {
 public:
  enum class Form { kNFC, kNFD, kNFKC, kNFKD };

  Normalizer();
  ~Normalizer();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;

  void addUnicode(Form form);
  void addLowercase();
  void addStrip(bool left, bool right);
  void addStripAccents();
  void addPrepend(std::string text);
  void addReplace(std::string from, std::string to);  // `from` non-empty
  // Throws Error when the regex does not compile in PCRE2.
  void addReplaceRegex(const std::string& regex, std::string to);

  bool empty() const { return steps_.empty(); }
  // Whether a Prepend or Replace step writes `text` (how a SentencePiece-style ▁ is recognised).
  bool writes(std::string_view text) const;

  // `text` (valid UTF-8) after every step, in order.
  std::string apply(std::string_view text) const;

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace slmc
