// An HDF5 file of calibration statistics (activation_stats.h), one group per layer and site, so
// a second run with the same model, data and method skips the calibration forward entirely.
//
// The statistics of layer i depend on what the pipeline did to layers < i (GPTQ-style sequential
// calibration), so the key holds everything they depend on: the input model's hash, the
// calibration ids' hash, sample count and length, the seed, the rows kept for observers and the
// pass that transforms the layers. A file whose key differs in any field is refused, naming the
// field: reusing it would silently quantize with another model's or another dataset's statistics.
//
// Layout: root attributes `format` ("slmc-stats-cache") and `key` (JSON text);
// /layer_NNN/<site>/{xtx [C, C], abs_max [C], abs_sum [C], sample [R, C]} float32, each site group
// with a `meta` JSON attribute (linears, channels, tokens, sample_rows). New files are written to
// a temporary name and renamed into place when complete (save()).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/reference/activation_stats.h"

namespace slmc {

class StatsCache {
 public:
  // Opens `path` for `key`. A missing file starts an empty cache (filled by store(), written by
  // save()); an existing one must carry the same key and hold every layer.
  StatsCache(std::string path, nlohmann::json key, int64_t num_layers);
  ~StatsCache();
  StatsCache(const StatsCache&) = delete;
  StatsCache& operator=(const StatsCache&) = delete;

  // True when the file existed with this key: load() serves every layer.
  bool complete() const { return complete_; }
  LayerStats load(int64_t layer) const;
  // Adds a layer's statistics to the file being written (only when !complete()).
  void store(const LayerStats& stats);
  // Renames the finished file into place; throws if some layer was not stored.
  void save();
  const std::string& path() const { return path_; }

  struct Writer;

 private:
  std::string path_;
  nlohmann::json key_;
  int64_t num_layers_;
  bool complete_ = false;
  int64_t stored_ = 0;
  std::unique_ptr<Writer> writer_;
};

}  // namespace slmc
