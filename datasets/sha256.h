// SHA-256 (FIPS 180-4) for dataset provenance: every source file a dataset was built from is
// recorded with its digest, so a dataset can be traced to the exact bytes it came from.
// Self-contained (no crypto dependency); incremental, so files are hashed while they stream.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slmc {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lowercase hex of the digest. Finishes the hash: call once, after the last update.
  std::string hexDigest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256Hex(std::string_view bytes);
// Streams the file in chunks; throws Error naming the path when it cannot be read.
std::string sha256File(const std::string& path);

}  // namespace slmc
