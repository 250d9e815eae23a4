#include "datasets/normalizer.h"

#include <cstdlib>
#include <utf8proc.h>

#include "datasets/regex_splitter.h"
#include "datasets/unicode_class.h"
#include "datasets/utf8.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

struct Normalizer::Step {
  virtual ~Step() = default;
  virtual void apply(std::string& s) const = 0;
  virtual bool writes(std::string_view) const { return false; }
};

namespace {

struct UnicodeStep final : Normalizer::Step {
  explicit UnicodeStep(Normalizer::Form f) : form(f) {}
  void apply(std::string& s) const override {
    if (s.empty()) return;
    bool ascii = true;
    for (unsigned char c : s) ascii &= c < 0x80;
    if (ascii) return;  // every form leaves ASCII alone
    int options = UTF8PROC_STABLE;
    switch (form) {
      case Normalizer::Form::kNFC: options |= UTF8PROC_COMPOSE; break;
      case Normalizer::Form::kNFD: options |= UTF8PROC_DECOMPOSE; break;
      case Normalizer::Form::kNFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
      case Normalizer::Form::kNFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &out,
                                            static_cast<utf8proc_option_t>(options));
    require(n >= 0, std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
    s.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
  }
  Normalizer::Form form;
};

struct LowercaseStep final : Normalizer::Step {
  void apply(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) appendLowercase(out, nextCodepoint(s, pos));
    s = std::move(out);
  }
};

struct StripStep final : Normalizer::Step {
  StripStep(bool l, bool r) : left(l), right(r) {}
  void apply(std::string& s) const override {
    size_t begin = 0, end = s.size();
    if (left) {
      while (begin < end) {
        size_t pos = begin;
        if (!isWhitespaceCodepoint(nextCodepoint(s, pos))) break;
        begin = pos;
      }
    }
    if (right) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t pos = start;
        if (!isWhitespaceCodepoint(nextCodepoint(s, pos))) break;
        end = start;
      }
    }
    s = s.substr(begin, end - begin);
  }
  bool left, right;
};

struct StripAccentsStep final : Normalizer::Step {
  void apply(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) {
      const size_t at = pos;
      if (!isCombiningMark(nextCodepoint(s, pos))) out.append(s, at, pos - at);
    }
    s = std::move(out);
  }
};

struct PrependStep final : Normalizer::Step {
  explicit PrependStep(std::string t) : text(std::move(t)) {}
  void apply(std::string& s) const override {
    if (!s.empty()) s.insert(0, text);
  }
  bool writes(std::string_view t) const override { return text.find(t) != std::string::npos; }
  std::string text;
};

struct ReplaceStep final : Normalizer::Step {
  ReplaceStep(std::string f, std::string t) : from(std::move(f)), to(std::move(t)) {}
  void apply(std::string& s) const override { replaceAll(s, from, to); }
  bool writes(std::string_view t) const override { return to.find(t) != std::string::npos; }
  std::string from, to;
};

struct ReplaceRegexStep final : Normalizer::Step {
  ReplaceRegexStep(const std::string& pattern, std::string t) : re(pattern), to(std::move(t)) {}
  void apply(std::string& s) const override {
    std::string out;
    size_t prev = 0;
    re.forEachMatch(s, [&](size_t start, size_t end) {
      out.append(s, prev, start - prev);
      out += to;
      prev = end;
    });
    if (prev == 0 && out.empty()) return;
    out.append(s, prev, std::string::npos);
    s = std::move(out);
  }
  bool writes(std::string_view t) const override { return to.find(t) != std::string::npos; }
  RegexSplitter re;
  std::string to;
};

}  // namespace

Normalizer::Normalizer() = default;
Normalizer::~Normalizer() = default;
Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;

void Normalizer::addUnicode(Form form) { steps_.push_back(std::make_unique<UnicodeStep>(form)); }
void Normalizer::addLowercase() { steps_.push_back(std::make_unique<LowercaseStep>()); }
void Normalizer::addStrip(bool left, bool right) { steps_.push_back(std::make_unique<StripStep>(left, right)); }
void Normalizer::addStripAccents() { steps_.push_back(std::make_unique<StripAccentsStep>()); }
void Normalizer::addPrepend(std::string text) { steps_.push_back(std::make_unique<PrependStep>(std::move(text))); }
void Normalizer::addReplace(std::string from, std::string to) {
  steps_.push_back(std::make_unique<ReplaceStep>(std::move(from), std::move(to)));
}
void Normalizer::addReplaceRegex(const std::string& regex, std::string to) {
  steps_.push_back(std::make_unique<ReplaceRegexStep>(regex, std::move(to)));
}

bool Normalizer::writes(std::string_view text) const {
  for (const auto& s : steps_)
    if (s->writes(text)) return true;
  return false;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const auto& step : steps_) step->apply(s);
  return s;
}

}  // namespace slmc
