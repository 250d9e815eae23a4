// Splits text into the pieces a regular expression matches, like Hugging Face's
// Split(pattern, behavior="Isolated") pre-tokenizer: every match is a piece and so is every gap
// between matches. Backed by PCRE2 in UTF + Unicode-property mode with JIT; the compiled pattern
// is immutable and shared, so split() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

class RegexSplitter {
 public:
  // GPT-2's pre-tokenizer pattern (contractions, letters, digits, other symbols, spaces).
  static const char* gpt2Pattern();

  // Throws Error naming the pattern and PCRE2's message when it does not compile.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Calls `piece(std::string_view)` for every piece of `text` (valid UTF-8), in order.
  template <typename F>
  void split(std::string_view text, F&& piece) const {
    Matcher m(*this, text);
    size_t start = 0, end = 0;
    size_t done = 0;
    while (m.next(start, end)) {
      if (start > done) piece(text.substr(done, start - done));
      piece(text.substr(start, end - start));
      done = end;
    }
    if (done < text.size()) piece(text.substr(done));
  }

  // Calls `match(size_t start, size_t end)` for every non-empty match, leftmost first, without
  // overlap (empty matches are stepped over one code point at a time).
  template <typename F>
  void forEachMatch(std::string_view text, F&& match) const {
    Matcher m(*this, text);
    size_t start = 0, end = 0;
    while (m.next(start, end)) match(start, end);
  }

  const std::string& pattern() const { return pattern_; }

 private:
  class Matcher {
   public:
    Matcher(const RegexSplitter& re, std::string_view text);
    ~Matcher();
    Matcher(const Matcher&) = delete;
    Matcher& operator=(const Matcher&) = delete;
    bool next(size_t& start, size_t& end);

   private:
    const RegexSplitter& re_;
    std::string_view text_;
    void* match_data_;
    size_t offset_ = 0;
  };

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8, kept opaque so PCRE2's header stays private
};

}  // namespace slmc
