// Hugging Face tokenizers' pre-tokenizers for byte-level BPE models: a sequence of steps, each
// cutting every piece the step before produced, with the semantics of
// tokenizers/src/pre_tokenizers/*.rs:
//   Split(pattern, behavior, invert)  a regex (or an escaped string) as delimiter
//   Digits(individual_digits)         numeric code points, Isolated one by one or Contiguous runs
//   Punctuation(behavior)             ASCII punctuation and Unicode P*
//   Whitespace                        \w+|[^\w\s]+ kept, the rest removed
//   WhitespaceSplit                   cut at White_Space, which is removed
//   ByteLevel(add_prefix_space, use_regex)  GPT-2's regex (when use_regex); the byte → char
//                                     mapping itself is the model's, so ByteLevel must be last.
// Immutable once built: run() is const and thread-safe with one Scratch per thread.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/split_behavior.h"

namespace slmc {

class PreTokenizer {
 public:
  // Working memory reused across calls; the views run() returns point into the text or into
  // `owned` (pieces given a prefix space), valid until the next run() with this scratch.
  struct Scratch {
    std::vector<std::string_view> pieces, next;
    std::vector<MatchSpan> spans;
    std::deque<std::string> owned;
  };

  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Throws Error when the regex does not compile in PCRE2.
  void addSplit(const std::string& regex, SplitBehavior behavior, bool invert);
  void addDigits(bool individual_digits);
  void addPunctuation(SplitBehavior behavior);
  void addWhitespace();
  void addWhitespaceSplit();
  void addByteLevel(bool add_prefix_space, bool use_regex);

  bool empty() const { return steps_.empty(); }
  size_t size() const { return steps_.size(); }

  // The pre-tokens of `text` (valid UTF-8), in order; none empty.
  const std::vector<std::string_view>& run(std::string_view text, Scratch& scratch) const;

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace slmc
