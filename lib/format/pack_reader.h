// Reads a .slmc pack (lib/format/pack_format.h) by mmap. Opening validates everything that can be
// checked without reading the blocks: magic, version, header / table / metadata checksums,
// file size (truncation), block offsets (inside the file, 64-byte aligned, in order, not
// overlapping), the metadata against the block sizes and the tensor list against the config. verify() then recomputes every block's
// CRC-32C. Tensors are views into the mapping (no copy). Every problem is an Error naming the
// file, the block or tensor, and the fix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lib/format/pack_format.h"
#include "lib/format/pack_metadata.h"
#include "lib/model/model.h"

namespace slmc {

// Bytes inside the pack; valid while the PackFile (or a Tensor made from it) lives.
struct PackView {
  const std::byte* data = nullptr;
  size_t bytes = 0;
  bool empty() const { return data == nullptr; }
};

struct PackTensor {
  std::string name;
  Shape shape;
  pack::Storage storage = pack::Storage::F32;
  QuantScheme scheme;  // quantized storages only (group_size as written; 0: per-channel)
  PackView data;       // float storages: the elements, row-major
  PackView codes;      // quantized: bit_packing.h codes, rows * packedRowBytes(cols, bits)
  PackView scales;     // quantized: float16 [rows, groups]
  PackView zeros;      // quantized asymmetric: packed zero points; empty when symmetric

  bool quantized() const { return weightTypeTraits(storage).quantized; }
};

struct PackEmbeddedFile {
  std::string name;
  std::string_view bytes;
};

// A block as the table lists it, with what it holds ("tensor 'x' codes", "tokenizer file 'y'").
struct PackBlock {
  uint64_t offset = 0, bytes = 0;
  uint32_t crc32 = 0;
  std::string what;
};

class PackFile {
 public:
  // Maps and validates `path`. Throws Error naming the path and the problem.
  static PackFile open(const std::string& path);
  // Validates bytes held in memory (a copy is kept); `origin` names them in errors.
  static PackFile fromBytes(std::string bytes, const std::string& origin = "<memory>");

  const std::string& origin() const { return origin_; }
  uint32_t version() const { return version_; }
  uint64_t fileBytes() const { return size_; }
  const ModelConfig& config() const { return config_; }
  const std::vector<PackTensor>& tensors() const { return tensors_; }
  const std::vector<PackBlock>& blocks() const { return blocks_; }
  PackView blockView(size_t index) const {
    return {data_ + blocks_.at(index).offset, static_cast<size_t>(blocks_.at(index).bytes)};
  }
  const std::vector<PackEmbeddedFile>& tokenizerFiles() const { return tokenizer_; }
  const std::map<std::string, ActivationQuant>& activationQuant() const { return activation_quant_; }
  const PackProvenance& provenance() const { return provenance_; }
  const nlohmann::json& metadata() const { return metadata_; }
  // Keeps the bytes alive: tensors viewing the pack hold it.
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Recomputes every block's CRC-32C, then checks the numbers: no NaN/Inf in a float tensor, every
  // scale positive and finite, every recorded N:M pattern held by the weights. Throws Error
  // naming the first block or tensor that fails. Every command that reads a pack (runtime
  // included) calls it, so none runs what only `slmc verify` would refuse.
  void verify() const;

 private:
  PackFile(std::shared_ptr<const void> owner, const std::byte* data, size_t size, std::string origin);
  void parseMetadata(const std::vector<pack::BlockEntry>& table, uint64_t metadata_end);
  PackView claimBlock(const nlohmann::json& index, const std::string& what, std::vector<bool>& used);

  std::shared_ptr<const void> owner_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string origin_;
  uint32_t version_ = 0;
  nlohmann::json metadata_;
  ModelConfig config_;
  std::vector<PackBlock> blocks_;
  std::vector<PackTensor> tensors_;
  std::vector<PackEmbeddedFile> tokenizer_;
  std::map<std::string, ActivationQuant> activation_quant_;
  PackProvenance provenance_;
};

// Cheap check of the first bytes: does this file start with the pack magic?
bool looksLikePack(const std::string& path);

// The pack as a slmc Model (not validated; loadModel does that): float tensors view the
// mapping, quantized weights become QuantizedTensor + their dequantized F32 tensor.
Model packToModel(const PackFile& pack);
// open + verify() + packToModel: what loadModel does for a pack.
Model loadPackAsModel(const std::string& path);

}  // namespace slmc
