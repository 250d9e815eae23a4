// The safetensors format (8-byte little-endian header length, JSON header, raw data): reading by
// mmap (tensors view the mapping, no copy) and writing atomically. Sharded checkpoints are read
// through their model.safetensors.index.json.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/tensor.h"

namespace slmc {

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;          // the header's __metadata__
};

// Reads one .safetensors file. Throws Error on truncation, a header past the end, bad JSON,
// unknown dtype, offsets out of range or overlapping, or a size that does not match the shape.
NamedTensors readSafetensors(const std::string& path);

// Reads every shard listed in an index file's weight_map (relative to the index's folder) and
// checks that each tensor is found in the shard the index names.
NamedTensors readShardedSafetensors(const std::string& index_path);

// Writes tensors in the given order (offsets 8-byte aligned by padding the header with spaces).
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace slmc
