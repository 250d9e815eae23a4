// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), the
// checksum of every .slmc pack block. Table-driven, slicing-by-8 (eight 256-entry tables built
// once at compile time), portable C++: no SSE4.2 instruction is assumed. Check value:
// crc32c("123456789") == 0xE3069283 (RFC 3720, appendix B.4).
#pragma once

#include <cstddef>
#include <cstdint>

namespace slmc {

// CRC-32C of `n` bytes. Pass a previous result as `crc` to continue a running checksum over
// consecutive pieces: crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace slmc
