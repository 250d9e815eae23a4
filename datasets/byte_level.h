// GPT-2's byte-level alphabet: every byte maps to one printable code point (printable Latin-1
// bytes to themselves, the other 68 to U+0100 onwards, so a space becomes Ġ U+0120), which lets a
// BPE vocabulary of strings cover arbitrary bytes. Same table as GPT-2's bytes_to_unicode().
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace slmc {

// Code point of each byte.
const std::array<uint32_t, 256>& byteToCodepoint();
// Byte of a code point from the alphabet, or -1.
int byteOfCodepoint(uint32_t codepoint);

// The UTF-8 piece text of each byte (e.g. byte 0x20 → "Ġ").
std::string bytePiece(unsigned char byte);

}  // namespace slmc
