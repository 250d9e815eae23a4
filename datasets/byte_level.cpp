#include "datasets/byte_level.h"

#include "datasets/utf8.h"

namespace slmc {

namespace {
std::array<uint32_t, 256> buildTable() {
  std::array<uint32_t, 256> table{};
  const auto keeps = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  uint32_t shifted = 256;
  for (int b = 0; b < 256; ++b) table[static_cast<size_t>(b)] = keeps(b) ? static_cast<uint32_t>(b) : shifted++;
  return table;
}
}  // namespace

const std::array<uint32_t, 256>& byteToCodepoint() {
  static const std::array<uint32_t, 256> table = buildTable();
  return table;
}

int byteOfCodepoint(uint32_t codepoint) {
  static const std::array<int16_t, 512> inverse = [] {
    std::array<int16_t, 512> inv{};
    inv.fill(-1);
    const auto& table = byteToCodepoint();
    for (int b = 0; b < 256; ++b) inv[table[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
    return inv;
  }();
  return codepoint < inverse.size() ? inverse[codepoint] : -1;
}

std::string bytePiece(unsigned char byte) {
  std::string s;
  appendUtf8(s, byteToCodepoint()[byte]);
  return s;
}

}  // namespace slmc
