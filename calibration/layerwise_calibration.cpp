#include "calibration/layerwise_calibration.h"

#include <chrono>
#include <memory>

#include "calibration/stats_cache.h"
#include "datasets/sha256.h"
#include "lib/model/model_config.h"

namespace slmc {

namespace {
double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::string modelDigest(const Model& model) {
  Sha256 h;
  h.update(hfConfigJson(model.config));
  for (const auto& [name, tensor] : model.tensors) {
    h.update(name);
    h.update(dtypeName(tensor.dtype()));
    h.update(shapeString(tensor.shape()));
    h.update(tensor.bytes(), tensor.nbytes());
  }
  return h.hexDigest();
}

nlohmann::json calibrationFigures(const LayerwiseCalibrationReport& report, int64_t num_samples, int64_t seq_len,
                                  const std::string& stats_cache) {
  return {{"samples", num_samples},
          {"seq_len", seq_len},
          {"tokens", num_samples * seq_len},
          {"stats_cache", stats_cache},
          {"stats_cache_hit", report.cache_hit},
          {"collect_seconds", report.collect_seconds},
          {"transform_seconds", report.transform_seconds}};
}

void addLayerSeconds(const LayerwiseCalibrationReport& report, nlohmann::json& layers) {
  for (size_t i = 0; i < report.layer_seconds.size() && i < layers.size(); ++i)
    layers[i]["seconds"] = report.layer_seconds[i];
}

std::string tokensDigest(const std::vector<int32_t>& ids) {
  Sha256 h;
  h.update(ids.data(), ids.size() * sizeof(int32_t));  // x86/ARM are little-endian
  return h.hexDigest();
}

LayerwiseCalibrationReport calibrateLayerwise(Model& model, const std::vector<int32_t>& ids, int64_t num_samples,
                                              int64_t seq_len, const LayerwiseCalibrationOptions& options,
                                              const std::function<void(Model&, const LayerStats&)>& transform,
                                              const std::function<void(int64_t, int64_t)>& progress) {
  LayerwiseCalibrationReport report;
  const int64_t layers = model.config.num_layers;
  std::unique_ptr<StatsCache> cache;
  if (!options.stats_cache.empty()) {
    const nlohmann::json key = {{"model_sha256", modelDigest(model)},
                                {"data_sha256", tokensDigest(ids)},
                                {"samples", num_samples},
                                {"seq_len", seq_len},
                                {"seed", options.forward.seed},
                                {"sample_rows", options.forward.sample_rows},
                                {"bf16", options.forward.bf16},
                                {"pass", options.cache_key_extra}};
    cache = std::make_unique<StatsCache>(options.stats_cache, key, layers);
  }
  const auto apply = [&](const LayerStats& stats) {
    const auto t0 = std::chrono::steady_clock::now();
    transform(model, stats);
    report.transform_seconds += secondsSince(t0);
  };
  if (cache && cache->complete()) {
    report.cache_hit = true;
    for (int64_t i = 0; i < layers; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      apply(cache->load(i));
      report.layer_seconds.push_back(secondsSince(t0));
      if (progress) progress(i + 1, layers);
    }
    return report;
  }
  LayerwiseForward forward(model, ids, num_samples, seq_len, options.forward);
  for (int64_t i = 0; i < layers; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const LayerStats stats = forward.collect(model);
    report.collect_seconds += secondsSince(t0);
    if (cache) cache->store(stats);
    apply(stats);
    // The last layer's outputs feed nothing the pass uses.
    if (i + 1 < layers) {
      const auto t1 = std::chrono::steady_clock::now();
      forward.advance(model);
      report.collect_seconds += secondsSince(t1);
    }
    report.layer_seconds.push_back(secondsSince(t0));
    if (progress) progress(i + 1, layers);
  }
  if (cache) cache->save();
  return report;
}

}  // namespace slmc
