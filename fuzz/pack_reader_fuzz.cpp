// libFuzzer target over the .slmc pack reader: any bytes must either load or be rejected with
// slmc::Error; every other exception, crash, leak or sanitizer report is a bug.
//
// Each input is read twice: as it is (exercising magic, version, size and checksum checks), and
// "resealed": file size and every checksum recomputed for the mutated bytes, so mutations
// reach the metadata, block-layout and model checks that checksums would otherwise hide.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "lib/format/pack_format.h"
#include "lib/format/pack_reader.h"
#include "lib/support/crc32.h"
#include "lib/support/error.h"

namespace {

using namespace slmc;

void exercise(const std::string& bytes) {
  try {
    const PackFile pack = PackFile::fromBytes(bytes, "fuzz");
    try {
      pack.verify();
    } catch (const Error&) {
    }
    // What loadModel does with a pack that opened: build the model and validate it.
    try {
      validateModel(packToModel(pack));
    } catch (const Error&) {
    }
  } catch (const Error&) {
  }
}

// Rewrites header fields and checksums so that only the metadata and block table are left
// as the fuzzer made them. False when the bytes cannot be given a consistent header.
bool reseal(std::string& b) {
  if (b.size() < sizeof(pack::Header) || std::memcmp(b.data(), pack::kMagic, sizeof pack::kMagic) != 0) return false;
  pack::Header h;
  std::memcpy(&h, b.data(), sizeof h);
  const uint64_t table_bytes = uint64_t{h.block_count} * sizeof(pack::BlockEntry);
  if (table_bytes > b.size() - sizeof h) return false;
  h.version = pack::kFormatVersion;
  h.header_bytes = sizeof h;
  h.table_offset = sizeof h;
  h.file_bytes = b.size();
  h.metadata_offset = sizeof h + table_bytes;
  if (h.metadata_bytes > b.size() - h.metadata_offset) h.metadata_bytes = b.size() - h.metadata_offset;
  h.metadata_crc32 = crc32c(b.data() + h.metadata_offset, h.metadata_bytes);
  for (uint32_t i = 0; i < h.block_count; ++i) {
    pack::BlockEntry e;
    char* at = b.data() + sizeof h + i * sizeof e;
    std::memcpy(&e, at, sizeof e);
    if (e.offset <= b.size() && e.bytes <= b.size() - e.offset) e.crc32 = crc32c(b.data() + e.offset, e.bytes);
    std::memcpy(at, &e, sizeof e);
  }
  h.table_crc32 = crc32c(b.data() + sizeof h, table_bytes);
  h.header_crc32 = crc32c(&h, pack::kHeaderCrcBytes);
  std::memcpy(b.data(), &h, sizeof h);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  exercise(bytes);
  if (reseal(bytes)) exercise(bytes);
  return 0;
}
