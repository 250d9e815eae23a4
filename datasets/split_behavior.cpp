#include "datasets/split_behavior.h"

#include <algorithm>

namespace slmc {

bool parseSplitBehavior(const std::string& name, SplitBehavior& out) {
  if (name == "Removed") out = SplitBehavior::kRemoved;
  else if (name == "Isolated") out = SplitBehavior::kIsolated;
  else if (name == "MergedWithPrevious") out = SplitBehavior::kMergedWithPrevious;
  else if (name == "MergedWithNext") out = SplitBehavior::kMergedWithNext;
  else if (name == "Contiguous") out = SplitBehavior::kContiguous;
  else return false;
  return true;
}

void splitBySpans(std::string_view text, const std::vector<MatchSpan>& spans, SplitBehavior behavior, bool invert,
                  std::vector<std::string_view>& out) {
  const auto emit = [&](size_t start, size_t end) {
    if (end > start) out.push_back(text.substr(start, end - start));
  };
  // The folds below mirror normalizer.rs: a pending piece [start, end) that a delimiter may
  // still extend, and whether the span before was a delimiter.
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const MatchSpan& s : spans) emit(s.start, s.end);
      return;
    case SplitBehavior::kRemoved:
      for (const MatchSpan& s : spans)
        if (s.is_match == invert) emit(s.start, s.end);
      return;
    case SplitBehavior::kContiguous:
    case SplitBehavior::kMergedWithPrevious: {
      bool have = false, previous_match = false;
      size_t start = 0, end = 0;
      for (const MatchSpan& s : spans) {
        const bool is_match = s.is_match != invert;
        const bool extend = behavior == SplitBehavior::kContiguous ? is_match == previous_match
                                                                    : is_match && !previous_match;
        if (extend && have) {
          end = s.end;
        } else {
          if (have) emit(start, end);
          start = s.start;
          end = s.end;
          have = true;
        }
        previous_match = is_match;
      }
      if (have) emit(start, end);
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      // Folded from the right: a delimiter joins the piece after it.
      std::vector<std::string_view>::size_type first = out.size();
      bool have = false, previous_match = false;
      size_t start = 0, end = 0;
      for (size_t i = spans.size(); i-- > 0;) {
        const MatchSpan& s = spans[i];
        const bool is_match = s.is_match != invert;
        if (is_match && !previous_match && have) {
          start = s.start;
        } else {
          if (have) emit(start, end);
          start = s.start;
          end = s.end;
          have = true;
        }
        previous_match = is_match;
      }
      if (have) emit(start, end);
      std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
      return;
    }
  }
}

}  // namespace slmc
