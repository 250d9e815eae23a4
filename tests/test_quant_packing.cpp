// Bit packing of 2/3/4/5/6/8-bit codes (lib/model/bit_packing.h): exact round trips and the byte layout.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "lib/model/bit_packing.h"
#include "lib/support/error.h"

using namespace slmc;

TEST_CASE("packing: pack/unpack round trip for every bit width and odd column counts") {
  std::mt19937 rng(7);
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int64_t cols : {1, 3, 7, 13, 33, 129}) {
      const int64_t rows = 5;
      std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
      std::vector<uint8_t> codes(static_cast<size_t>(rows * cols));
      for (auto& c : codes) c = static_cast<uint8_t>(code(rng));
      const std::vector<uint8_t> packed = packCodes(codes.data(), rows, cols, bits);
      CHECK(static_cast<int64_t>(packed.size()) == rows * packedRowBytes(cols, bits));
      CHECK(packedRowBytes(cols, bits) == (cols * bits + 7) / 8);
      CHECK(unpackCodes(packed.data(), rows, cols, bits) == codes);
    }
}

TEST_CASE("packing: 4-bit byte layout is low nibble first, rows start on a byte") {
  const std::vector<uint8_t> codes = {1, 2, 3,   // row 0: 0x21, 0x03
                                      15, 0, 9};  // row 1: 0x0F, 0x09
  CHECK(packCodes(codes.data(), 2, 3, 4) == std::vector<uint8_t>{0x21, 0x03, 0x0F, 0x09});
}

TEST_CASE("packing: 3-bit codes straddle bytes, least significant bit first") {
  // Bits, LSB first: 1 → 100, 2 → 010, 3 → 110, 4 → 001, 5 → 101, 6 → 011, 7 → 111, 0 → 000.
  const std::vector<uint8_t> codes = {1, 2, 3, 4, 5, 6, 7, 0};
  CHECK(packCodes(codes.data(), 1, 8, 3) == std::vector<uint8_t>{0xD1, 0x58, 0x1F});
  // Two rows of 3 codes: 9 bits each, 2 bytes per row, the unused high bits zero.
  const std::vector<uint8_t> two = {7, 7, 7, 1, 0, 0};
  CHECK(packCodes(two.data(), 2, 3, 3) == std::vector<uint8_t>{0xFF, 0x01, 0x01, 0x00});
  CHECK(unpackCodes(std::vector<uint8_t>{0xD1, 0x58, 0x1F}.data(), 1, 8, 3) == codes);
}

TEST_CASE("packing: 5- and 6-bit codes run on across bytes, least significant bit first, rows start on a byte") {
  // 5-bit: 8 codes fill 5 bytes; code 1 (2) sets bit 6 of byte 0, code 2 (31) bits 10-14.
  const std::vector<uint8_t> five = {1, 2, 31, 0, 17, 5, 10, 20};
  CHECK(packCodes(five.data(), 1, 8, 5) == std::vector<uint8_t>{0x41, 0x7C, 0x10, 0x8B, 0xA2});
  CHECK(unpackCodes(std::vector<uint8_t>{0x41, 0x7C, 0x10, 0x8B, 0xA2}.data(), 1, 8, 5) == five);
  // 6-bit: 4 codes fill 3 bytes; two rows of 3 codes take 18 bits, 3 bytes each.
  const std::vector<uint8_t> six = {1, 63, 2, 32};
  CHECK(packCodes(six.data(), 1, 4, 6) == std::vector<uint8_t>{0xC1, 0x2F, 0x80});
  const std::vector<uint8_t> rows = {63, 1, 0, 0, 0, 63};
  CHECK(packCodes(rows.data(), 2, 3, 6) == std::vector<uint8_t>{0x7F, 0x00, 0x00, 0x00, 0xF0, 0x03});
  CHECK(unpackCodes(std::vector<uint8_t>{0x7F, 0x00, 0x00, 0x00, 0xF0, 0x03}.data(), 2, 3, 6) == rows);
}

TEST_CASE("packing: codes that do not fit the bit width are rejected") {
  const std::vector<uint8_t> four = {3, 16};
  CHECK_THROWS_WITH_AS(packCodes(four.data(), 1, 2, 4), doctest::Contains("does not fit 4 bits"), Error);
  const std::vector<uint8_t> two = {4};
  CHECK_THROWS_AS(packCodes(two.data(), 1, 1, 2), Error);
  const std::vector<uint8_t> three = {8};
  CHECK_THROWS_AS(packCodes(three.data(), 1, 1, 3), Error);
  const std::vector<uint8_t> five = {32}, six = {64};
  CHECK_THROWS_AS(packCodes(five.data(), 1, 1, 5), Error);
  CHECK_THROWS_AS(packCodes(six.data(), 1, 1, 6), Error);
}
