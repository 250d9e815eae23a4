// The Unicode character classes Hugging Face tokenizers' pre-tokenizers and normalizers test,
// with Rust's definitions (their source is Rust), from utf8proc's Unicode tables.
#pragma once

#include <cstdint>
#include <string>

namespace slmc {

// Rust char::is_numeric: general category Nd, Nl or No (Digits pre-tokenizer).
bool isNumericCodepoint(uint32_t cp);
// tokenizers' is_punc: ASCII punctuation (which includes $ + < = > ^ ` | ~) or category P*.
bool isPunctuationCodepoint(uint32_t cp);
// Rust char::is_whitespace: the White_Space property.
bool isWhitespaceCodepoint(uint32_t cp);
// Category M (Mn, Mc, Me): what the StripAccents normalizer removes.
bool isCombiningMark(uint32_t cp);
// Appends Rust's char::to_lowercase of `cp` (full mapping, context-free: no final sigma rule).
void appendLowercase(std::string& out, uint32_t cp);

}  // namespace slmc
