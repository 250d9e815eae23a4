#include "datasets/pre_tokenizer.h"

#include "datasets/regex_splitter.h"
#include "datasets/unicode_class.h"
#include "datasets/utf8.h"

namespace slmc {

struct PreTokenizer::Step {
  virtual ~Step() = default;
  // Appends the pieces of `piece` to `out`.
  virtual void split(std::string_view piece, Scratch& scratch, std::vector<std::string_view>& out) const = 0;
};

namespace {

// The spans of `text` a regex matches and the gaps between, as tokenizers' Pattern::find_matches.
void regexSpans(const RegexSplitter& re, std::string_view text, std::vector<MatchSpan>& spans) {
  spans.clear();
  size_t prev = 0;
  re.forEachMatch(text, [&](size_t start, size_t end) {
    if (start > prev) spans.push_back({prev, start, false});
    spans.push_back({start, end, true});
    prev = end;
  });
  if (prev < text.size()) spans.push_back({prev, text.size(), false});
}

// Each code point the predicate accepts is its own match (tokenizers' Fn(char) -> bool pattern).
template <typename Pred>
void charSpans(std::string_view text, Pred pred, std::vector<MatchSpan>& spans) {
  spans.clear();
  size_t prev = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t at = pos;
    const uint32_t cp = nextCodepoint(text, pos);
    if (pred(cp)) {
      if (at > prev) spans.push_back({prev, at, false});
      spans.push_back({at, pos, true});
      prev = pos;
    }
  }
  if (prev < text.size()) spans.push_back({prev, text.size(), false});
}

struct RegexStep final : PreTokenizer::Step {
  RegexStep(const std::string& pattern, SplitBehavior b, bool inv) : re(pattern), behavior(b), invert(inv) {}
  void split(std::string_view piece, PreTokenizer::Scratch& s, std::vector<std::string_view>& out) const override {
    if (behavior == SplitBehavior::kIsolated) {  // the common case, without the span list
      re.split(piece, [&](std::string_view p) { out.push_back(p); });
      return;
    }
    regexSpans(re, piece, s.spans);
    splitBySpans(piece, s.spans, behavior, invert, out);
  }
  RegexSplitter re;
  SplitBehavior behavior;
  bool invert;
};

enum class CharClass { kNumeric, kPunctuation, kWhitespace };

struct CharStep final : PreTokenizer::Step {
  CharStep(CharClass c, SplitBehavior b) : cls(c), behavior(b) {}
  void split(std::string_view piece, PreTokenizer::Scratch& s, std::vector<std::string_view>& out) const override {
    switch (cls) {
      case CharClass::kNumeric: charSpans(piece, isNumericCodepoint, s.spans); break;
      case CharClass::kPunctuation: charSpans(piece, isPunctuationCodepoint, s.spans); break;
      case CharClass::kWhitespace: charSpans(piece, isWhitespaceCodepoint, s.spans); break;
    }
    splitBySpans(piece, s.spans, behavior, false, out);
  }
  CharClass cls;
  SplitBehavior behavior;
};

struct ByteLevelStep final : PreTokenizer::Step {
  ByteLevelStep(bool prefix, bool use_regex) : add_prefix_space(prefix) {
    if (use_regex) re = std::make_unique<RegexSplitter>(RegexSplitter::gpt2Pattern());
  }
  void split(std::string_view piece, PreTokenizer::Scratch& s, std::vector<std::string_view>& out) const override {
    if (add_prefix_space && (piece.empty() || piece[0] != ' ')) {
      s.owned.push_back(" " + std::string(piece));
      piece = s.owned.back();
    }
    if (!re) {
      if (!piece.empty()) out.push_back(piece);
      return;
    }
    re->split(piece, [&](std::string_view p) { out.push_back(p); });
  }
  bool add_prefix_space;
  std::unique_ptr<RegexSplitter> re;
};

}  // namespace

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::addSplit(const std::string& regex, SplitBehavior behavior, bool invert) {
  steps_.push_back(std::make_unique<RegexStep>(regex, behavior, invert));
}
void PreTokenizer::addDigits(bool individual_digits) {
  steps_.push_back(std::make_unique<CharStep>(
      CharClass::kNumeric, individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous));
}
void PreTokenizer::addPunctuation(SplitBehavior behavior) {
  steps_.push_back(std::make_unique<CharStep>(CharClass::kPunctuation, behavior));
}
void PreTokenizer::addWhitespace() {
  // \w+|[^\w\s]+ with Oniguruma's \w (Alphabetic, marks, decimal digits, connector punctuation
  // and the joiners ZWNJ/ZWJ), which is wider than PCRE2's.
  steps_.push_back(std::make_unique<RegexStep>(
      R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)",
      SplitBehavior::kRemoved, true));
}
void PreTokenizer::addWhitespaceSplit() {
  steps_.push_back(std::make_unique<CharStep>(CharClass::kWhitespace, SplitBehavior::kRemoved));
}
void PreTokenizer::addByteLevel(bool add_prefix_space, bool use_regex) {
  steps_.push_back(std::make_unique<ByteLevelStep>(add_prefix_space, use_regex));
}

const std::vector<std::string_view>& PreTokenizer::run(std::string_view text, Scratch& s) const {
  s.owned.clear();
  s.pieces.clear();
  // tokenizers calls each step on every piece, an empty text included (ByteLevel's prefix
  // space then makes " "); with no step at all the text is one piece.
  s.pieces.push_back(text);
  for (const auto& step : steps_) {
    s.next.clear();
    for (std::string_view p : s.pieces) step->split(p, s, s.next);
    s.pieces.swap(s.next);
  }
  if (s.pieces.size() == 1 && s.pieces[0].empty()) s.pieces.clear();
  return s.pieces;
}

}  // namespace slmc
