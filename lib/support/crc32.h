// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), the
// checksum of every .slmc pack block. On x86-64 CPUs with SSE4.2 (checked at run time) the crc32
// instruction computes it, 8 bytes per instruction; elsewhere a table-driven slicing-by-8 (eight
// 256-entry tables built at compile time) in portable C++. Both give the same value: opening a
// pack checks every block, and the float32 SmolLM2 pack's 540 MB took ~0.27 s of table lookups
// against ~0.06 s with the instruction. Check value: crc32c("123456789") == 0xE3069283 (RFC
// 3720, appendix B.4).
#pragma once

#include <cstddef>
#include <cstdint>

namespace slmc {

// CRC-32C of `n` bytes. Pass a previous result as `crc` to continue a running checksum over
// consecutive pieces: crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// The portable table-driven path alone (tests compare the two).
uint32_t crc32cPortable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace slmc
