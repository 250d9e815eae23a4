// GPTQ-style sequential calibration as one driver every calibrated pass shares: for each layer in
// order, gather the statistics of its inputs on the calibration samples *as the model is now*
// (layers before it already transformed), let the pass transform the layer, then run the
// transformed layer to produce the next layer's inputs. With a statistics cache that holds every
// layer for this exact (model, data, seed, pass) key, no forward runs at all.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/activation_stats.h"
#include "lib/reference/layerwise_forward.h"

namespace slmc {

struct LayerwiseCalibrationOptions {
  LayerwiseOptions forward;  // rows kept for observers, seed, batch
  std::string stats_cache;   // HDF5 path; empty: no cache
  // What the statistics depend on besides the model and the data (the pass and its options).
  nlohmann::json cache_key_extra;
};

struct LayerwiseCalibrationReport {
  bool cache_hit = false;
  double collect_seconds = 0;    // forward passes that gathered statistics
  double transform_seconds = 0;  // the pass's own work
  std::vector<double> layer_seconds;
};

// `ids`: [num_samples, seq_len] row-major calibration tokens. `transform(model, stats)` changes
// layer stats.layer of `model` in place. `progress(layer_done, num_layers)` after each layer.
LayerwiseCalibrationReport calibrateLayerwise(Model& model, const std::vector<int32_t>& ids, int64_t num_samples,
                                              int64_t seq_len, const LayerwiseCalibrationOptions& options,
                                              const std::function<void(Model&, const LayerStats&)>& transform,
                                              const std::function<void(int64_t, int64_t)>& progress = {});

// The report's "calibration" figures of a run: samples, seq_len, tokens, the cache and whether
// it hit, forward and transform seconds.
nlohmann::json calibrationFigures(const LayerwiseCalibrationReport& report, int64_t num_samples, int64_t seq_len,
                                  const std::string& stats_cache);
// Adds report.layer_seconds[i] as "seconds" to layers[i] (per-layer figures of a pass).
void addLayerSeconds(const LayerwiseCalibrationReport& report, nlohmann::json& layers);

// The SHA-256 of a model's config and tensor bytes in canonical order (stats cache key).
std::string modelDigest(const Model& model);
// The SHA-256 of token ids (little-endian int32).
std::string tokensDigest(const std::vector<int32_t>& ids);

}  // namespace slmc
