// Hugging Face tokenizers' SplitDelimiterBehavior: how the pieces of a text that a pattern
// matches (delimiters) and the gaps between them become pre-tokens. Same rules as
// tokenizers/src/tokenizer/normalizer.rs NormalizedString::split:
//   Removed            delimiters are dropped;            "a,b" → "a" "b"
//   Isolated           every delimiter is its own piece;  "a,b" → "a" "," "b"
//   MergedWithPrevious a delimiter joins the gap before;  "a,b" → "a," "b"
//   MergedWithNext     a delimiter joins the gap after;   "a,b" → "a" ",b"
//   Contiguous         runs of delimiters form one piece; "a,,b" → "a" ",," "b"
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace slmc {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// "Removed", "Isolated", ... as tokenizer.json writes them; false when `name` is none of them.
bool parseSplitBehavior(const std::string& name, SplitBehavior& out);

// One span of a text: [start, end) and whether the pattern matched it.
struct MatchSpan {
  size_t start;
  size_t end;
  bool is_match;
};

// Appends the pre-tokens of `text` to `out`, given `spans` that tile `text` in order (gaps and
// matches); `invert` swaps which spans count as delimiters. Empty pieces are never appended.
void splitBySpans(std::string_view text, const std::vector<MatchSpan>& spans, SplitBehavior behavior, bool invert,
                  std::vector<std::string_view>& out);

}  // namespace slmc
