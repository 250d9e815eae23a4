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
#include <optional>
#include <string>

#include "lib/model/bit_packing.h"
#include "lib/model/dtype.h"
#include "lib/model/quant_scheme.h"
#include "lib/model/tensor.h"
#include "runtime/weight_type.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .slmc pack is little-endian; port the reader first");

namespace slmc::pack {

inline constexpr char kMagic[8] = {'S', 'L', 'M', 'C', 'P', 'A', 'C', 'K'};
inline constexpr uint32_t kFormatVersion = 1;  // bump on any change a version-1 reader would misread
inline constexpr uint64_t kAlignment = 64;     // every block starts on a multiple of this
inline constexpr const char* kFormatName = "slmc-pack";  // metadata "format"
inline constexpr const char* kChecksumName = "crc32c";  // lib/support/crc32.h

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

// How a tensor is stored: its WeightType, one row of the type table (runtime/weight_type.h), named
// in the metadata by the row's storage_name. The writer, the reader, the runtime and the docs read
// that table; the pack adds only the element dtype of the float types.
using Storage = WeightType;

// The element dtype of a float storage's data block (F32, F16, BF16); the U8 of packed codes for
// an integer grid.
inline DType storageDType(Storage storage) {
  switch (storage) {
    case WeightType::F32:
      return DType::F32;
    case WeightType::F16:
      return DType::F16;
    case WeightType::BF16:
      return DType::BF16;
    default:
      return DType::U8;
  }
}
// The float storage of a float dtype (F32, F16, BF16); nothing for any other dtype.
inline std::optional<Storage> floatStorage(DType dtype) {
  for (const WeightTypeTraits& t : kWeightTypes)
    if (!t.quantized && storageDType(t.type) == dtype) return t.type;
  return std::nullopt;
}

// The blocks of a quantized [rows, cols] weight, in this order:
//   codes   rows * packedRowBytes(cols, bits)     row r at r * packedRowBytes(cols, bits)
//   scales  rows * groups * 2                     float16, [rows, groups] row-major
//   zeros   rows * packedRowBytes(groups, bits)   asymmetric only (symmetric: 2^(bits-1))
// Their sizes come from the type table (integerBlockBytes); their sum is quant_scheme.h's
// quantizedBytes(): the size every report counts.
using QuantizedBlockBytes = IntegerBlockBytes;
inline QuantizedBlockBytes quantizedBlockBytes(const QuantScheme& scheme, int64_t rows, int64_t cols) {
  return integerBlockBytes(scheme.bits(), rows, cols, groupsPerRow(scheme, cols), scheme.symmetric);
}

}  // namespace slmc::pack
