#include "datasets/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "datasets/utf8.h"
#include "lib/support/error.h"

namespace slmc {

const char* RegexSplitter::gpt2Pattern() {
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
}

RegexSplitter::RegexSplitter(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  // UCP: \s, \d, \w and friends follow Unicode, as in the Oniguruma regexes Hugging Face uses.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error("cannot compile the pre-tokenizer regex '" + pattern + "' at offset " +
                std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message) +
                "; slmc supports PCRE2-compatible Split patterns only");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
  code_ = code;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

RegexSplitter::Matcher::Matcher(const RegexSplitter& re, std::string_view text)
    : re_(re),
      text_(text),
      match_data_(pcre2_match_data_create_from_pattern(static_cast<pcre2_code*>(re.code_), nullptr)) {
  require(match_data_ != nullptr, "out of memory creating a PCRE2 match block");
}

RegexSplitter::Matcher::~Matcher() { pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_)); }

bool RegexSplitter::Matcher::next(size_t& start, size_t& end) {
  auto* md = static_cast<pcre2_match_data*>(match_data_);
  while (offset_ < text_.size()) {
    // The text was validated once by the tokenizer: skip PCRE2's per-call UTF check.
    const int rc = pcre2_match(static_cast<pcre2_code*>(re_.code_), reinterpret_cast<PCRE2_SPTR>(text_.data()),
                               text_.size(), offset_, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    require(rc >= 0, "pre-tokenizer regex '" + re_.pattern_ + "' failed with PCRE2 error " + std::to_string(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    start = ov[0];
    end = ov[1];
    if (end == start) {
      // An empty match produces no piece: step over one code point and search again.
      size_t pos = offset_ > start ? offset_ : start;
      if (pos >= text_.size()) return false;
      nextCodepoint(text_, pos);
      offset_ = pos;
      continue;
    }
    offset_ = end;
    return true;
  }
  return false;
}

}  // namespace slmc
