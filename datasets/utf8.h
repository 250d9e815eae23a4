// UTF-8 helpers for the tokenizers: validation that names the byte offset of the first bad byte,
// code point iteration over text already validated, and encoding a code point back to bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slmc {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF count as malformed), or std::string_view::npos.
size_t findInvalidUtf8(std::string_view text);

// Throws Error "invalid UTF-8 at byte offset N in <what>: ..." unless `text` is well-formed.
void requireValidUtf8(std::string_view text, const std::string& what);

// Length of the sequence that starts with `lead` (1 for continuation bytes, so that iteration
// over arbitrary bytes still advances).
inline size_t utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// The code point that starts at text[pos] (text must be valid UTF-8); advances pos past it.
uint32_t nextCodepoint(std::string_view text, size_t& pos);

void appendUtf8(std::string& out, uint32_t codepoint);

}  // namespace slmc
