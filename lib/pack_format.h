// The .slmc pack on disk: slmc's one-file deployable model. Every reader and writer of the
// format reads its layout from here; docs/pack-format.md draws the same bytes.
//
//   offset 0            Header (64 bytes): magic "SLMCPACK", format version, file size,
//                       where the block table and the metadata are, their CRC-32C
//   64                  BlockEntry[block_count] (24 bytes each): offset, size, CRC-32C of a block
//   64 + 24 * count     metadata: UTF-8 JSON (config, tensors and their storage, activation
//                       quantizers, tokenizer files, provenance), `metadata_bytes` long
//   zero padding to 64  blocks: each starts on a 64-byte boundary (zero padding between), in
//                       table order; the file ends where the last block ends
//
// All integers are little-endian. A block is raw bytes a runtime uses in place: float32,
// float16 or bfloat16 elements row-major, or a quantized weight's codes / scales / zeros exactly
// as bit_packing.h and quant_scheme.h lay them out (codes: each row an LSB-first bit stream
// starting on a byte boundary; scales: float16 [rows, groups]; zeros: packed like codes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "lib/bit_packing.h"
#include "lib/dtype.h"
#include "lib/quant_scheme.h"
#include "lib/tensor.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .slmc pack is little-endian; port the reader first");

namespace slmc::pack {

inline constexpr char kMagic[8] = {'S', 'L', 'M', 'C', 'P', 'A', 'C', 'K'};
inline constexpr uint32_t kFormatVersion = 1;  // bump on any change a version-1 reader would misread
inline constexpr uint64_t kAlignment = 64;     // every block starts on a multiple of this
inline constexpr const char* kFormatName = "slmc-pack";  // metadata "format"
inline constexpr const char* kChecksumName = "crc32c";  // lib/crc32.h

// At offset 0. The CRC-32C fields are computed with the file's own bytes (crc32.h).
struct Header {
  char magic[8];             // kMagic, no terminator
  uint32_t version;          // kFormatVersion
  uint32_t header_bytes;     // sizeof(Header): 64
  uint64_t file_bytes;       // size of the whole file (truncation shows up here)
  uint64_t table_offset;     // sizeof(Header): the block table follows the header
  uint32_t block_count;      // entries in the block table
  uint32_t table_crc32;      // CRC-32C of the block_count * 24 table bytes
  uint64_t metadata_offset;  // table_offset + block_count * sizeof(BlockEntry)
  uint64_t metadata_bytes;   // length of the JSON text (no terminator)
  uint32_t metadata_crc32;   // CRC-32C of the JSON text
  uint32_t header_crc32;     // CRC-32C of header bytes [0, 60): everything above
};
static_assert(sizeof(Header) == 64, "pack header is 64 bytes");
static_assert(offsetof(Header, version) == 8 && offsetof(Header, file_bytes) == 16 &&
                  offsetof(Header, table_offset) == 24 && offsetof(Header, block_count) == 32 &&
                  offsetof(Header, metadata_offset) == 40 && offsetof(Header, metadata_bytes) == 48 &&
                  offsetof(Header, metadata_crc32) == 56 && offsetof(Header, header_crc32) == 60,
              "pack header field offsets are part of the format");
inline constexpr size_t kHeaderCrcBytes = offsetof(Header, header_crc32);

// One row of the block table; the metadata refers to blocks by their index in the table.
struct BlockEntry {
  uint64_t offset;    // from the start of the file; a multiple of kAlignment
  uint64_t bytes;     // payload length (padding not included)
  uint32_t crc32;     // CRC-32C of the payload
  uint32_t reserved;  // 0
};
static_assert(sizeof(BlockEntry) == 24, "pack block entry is 24 bytes");
static_assert(offsetof(BlockEntry, bytes) == 8 && offsetof(BlockEntry, crc32) == 16, "block entry layout");

inline constexpr uint64_t alignUp(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// How a tensor is stored: one row per storage (ggml's type_traits idea). Adding a storage is
// adding a row; the writer, the reader and the docs read this table. New storages are appended
// (BF16 came last), so a storage's index keeps its meaning.
enum class Storage : uint8_t { F32, F16, Int8, Int4, Int3, Int2, BF16 };

struct StorageTraits {
  Storage storage;
  const char* name;  // metadata "storage"
  int bits;          // bits per stored element (float) or per code (quantized)
  bool quantized;    // codes + scales (+ zeros) blocks instead of one data block
  DType dtype;       // float storages: the element type of the data block
};

inline constexpr StorageTraits kStorages[] = {
    {Storage::F32, "float32", 32, false, DType::F32},  {Storage::F16, "float16", 16, false, DType::F16},
    {Storage::Int8, "int8", 8, true, DType::U8},       {Storage::Int4, "int4", 4, true, DType::U8},
    {Storage::Int3, "int3", 3, true, DType::U8},       {Storage::Int2, "int2", 2, true, DType::U8},
    {Storage::BF16, "bfloat16", 16, false, DType::BF16},
};
static_assert(std::size(kStorages) == static_cast<size_t>(Storage::BF16) + 1,
              "one kStorages row per Storage, in order");

// The float storage of a float dtype (F32, F16, BF16); nullptr for any other dtype.
inline const StorageTraits* floatStorage(DType dtype) {
  for (const StorageTraits& t : kStorages)
    if (!t.quantized && t.dtype == dtype) return &t;
  return nullptr;
}
// "float32, float16, ...": every storage name, for error messages.
inline std::string storageNames() {
  std::string out;
  for (const StorageTraits& t : kStorages) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

inline const StorageTraits& storageTraits(Storage s) { return kStorages[static_cast<size_t>(s)]; }
// nullptr when `name` is no storage of this format version.
inline const StorageTraits* findStorage(const std::string& name) {
  for (const StorageTraits& t : kStorages)
    if (name == t.name) return &t;
  return nullptr;
}
// nullptr when no storage has this many bits per code.
inline const StorageTraits* quantizedStorage(int bits) {
  for (const StorageTraits& t : kStorages)
    if (t.quantized && t.bits == bits) return &t;
  return nullptr;
}

// The blocks of a quantized [rows, cols] weight, in this order:
//   codes   rows * packedRowBytes(cols, bits)     row r at r * packedRowBytes(cols, bits)
//   scales  rows * groups * 2                     float16, [rows, groups] row-major
//   zeros   rows * packedRowBytes(groups, bits)   asymmetric only (symmetric: 2^(bits-1))
// Their sum is quant_scheme.h's quantizedBytes(): the size every report counts.
struct QuantizedBlockBytes {
  int64_t codes = 0, scales = 0, zeros = 0;
  int64_t total() const { return codes + scales + zeros; }
};
inline QuantizedBlockBytes quantizedBlockBytes(const QuantScheme& scheme, int64_t rows, int64_t cols) {
  const int64_t groups = groupsPerRow(scheme, cols);
  QuantizedBlockBytes b;
  b.codes = rows * packedRowBytes(cols, scheme.bits);
  b.scales = rows * groups * static_cast<int64_t>(dtypeSize(DType::F16));
  b.zeros = scheme.symmetric ? 0 : rows * packedRowBytes(groups, scheme.bits);
  return b;
}

}  // namespace slmc::pack
