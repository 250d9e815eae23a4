// Writes a Model as a .slmc pack (lib/format/pack_format.h; docs/pack-format.md): float tensors in
// their stored dtype (F32, F16 or BF16, as lib/format/float_dtype.h chose it beforehand), quantized
// weights as their codes / scales / zeros blocks in the bit_packing.h layout, the tokenizer files, activation
// quantizers and provenance. The same model and inputs give the same bytes; the file appears
// only when complete (temp file + rename).
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/format/pack_metadata.h"
#include "lib/model/model.h"

namespace slmc {

// Writes `path` atomically. Throws Error (and leaves no file) when the model is invalid or the
// file cannot be written.
void writePack(const Model& model, const std::string& path, const PackProvenance& provenance,
               const std::vector<EmbeddedFile>& tokenizer = {});

// The files that make up a checkpoint, in hashing order: a file is itself; a Hugging Face
// directory is config.json then model.safetensors (or the index then its shards, sorted). Empty
// when `source` is not on disk (a model built in memory).
std::vector<std::string> checkpointFiles(const std::string& source);

// The tokenizer a pack of `model` should carry: `override_path` when given; else the tokenizer
// files of the source directory (tokenizer.json, tokenizer.model, tokenizer_config.json,
// special_tokens_map.json); else, when the model was loaded from a pack, that pack's files.
std::vector<EmbeddedFile> tokenizerFilesFor(const Model& model, const std::string& override_path = "");

// A block's payload, not owned.
struct PackBlockRef {
  const void* data = nullptr;
  size_t bytes = 0;
};
// The low level shared by writePack and the format tests: lays out header, block table,
// metadata text and 64-byte aligned blocks, computes every checksum, and hands the bytes to
// `sink` in file order. The metadata is written as given (tests build contradicting ones).
void emitPack(const std::string& metadata_text, const std::vector<PackBlockRef>& blocks,
              const std::function<void(const void*, size_t)>& sink);

}  // namespace slmc
