// Packing of 2- to 8-bit codes. Each row is a little-endian bit stream starting on a byte
// boundary: code c of the row occupies bits [c*bits, c*bits + bits) of the row, least
// significant bit first (so 4-bit code 0 is the low nibble of byte 0; 3-, 5- and 6-bit codes
// straddle bytes). Unused high bits of a row's last byte are zero.
#pragma once

#include <cstdint>
#include <vector>

namespace slmc {

int64_t packedRowBytes(int64_t cols, int bits);
// codes: [rows, cols], one code per byte, each < 2^bits (checked: throws Error otherwise).
std::vector<uint8_t> packCodes(const uint8_t* codes, int64_t rows, int64_t cols, int bits);
// packed: rows * packedRowBytes(cols, bits) bytes.
std::vector<uint8_t> unpackCodes(const uint8_t* packed, int64_t rows, int64_t cols, int bits);

}  // namespace slmc
