#include "passes/prune/prune_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "lib/format/quantized_checkpoint.h"
#include "lib/model/sparsity_record.h"
#include "lib/support/error.h"
#include "passes/prune/magnitude.h"
#include "passes/prune/wanda.h"
#include "passes/quantize/second_order.h"
#include "passes/weight_selection.h"

namespace slmc {

using json = nlohmann::json;

PruneMethod parsePruneMethod(const std::string& name) {
  if (name == "magnitude") return PruneMethod::Magnitude;
  if (name == "wanda") return PruneMethod::Wanda;
  if (name == "sparsegpt") return PruneMethod::SparseGpt;
  throw Error("unknown pruning method '" + name + "' (use magnitude, wanda or sparsegpt)");
}

const char* pruneMethodName(PruneMethod method) {
  switch (method) {
    case PruneMethod::Magnitude: return "magnitude";
    case PruneMethod::Wanda: return "wanda";
    case PruneMethod::SparseGpt: return "sparsegpt";
  }
  return "?";
}

bool pruneMethodNeedsCalibration(PruneMethod method) { return method != PruneMethod::Magnitude; }

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "model.layers.3.mlp.up_proj.weight" → 3; -1 outside the layers.
int64_t layerOf(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return -1;
  return std::stoll(name.substr(prefix.size()));
}

// The target for one weight: N:M as asked, or the layer's own fraction.
SparsityTarget targetFor(const PruneOptions& o, const std::string& name) {
  SparsityTarget t = o.target;
  const int64_t layer = layerOf(name);
  if (!t.isNM() && !o.layer_sparsity.empty() && layer >= 0) t.sparsity = o.layer_sparsity[static_cast<size_t>(layer)];
  return t;
}

struct Run {
  const PruneOptions& options;
  std::vector<std::string> targets;
  PruneOutcome& outcome;
  json layers = json::array();

  bool isTarget(const std::string& name) const {
    return std::find(targets.begin(), targets.end(), name) != targets.end();
  }
};

// Writes the pruned values back and records the pattern.
void storePruned(Model& m, Run& run, const std::string& name, const SparsityTarget& target, std::vector<float> values,
                 json entry, json& entries) {
  const Shape shape = m.tensors.at(name).shape();
  const int64_t zeros = countZeros(values.data(), static_cast<int64_t>(values.size()));
  m.tensors.set(name, Tensor::fromFloats(shape, std::move(values)));
  SparsityInfo info;
  info.n = target.n;
  info.m = target.m;
  info.target = target.fraction();
  info.method = pruneMethodName(run.options.method);
  m.sparsity[name] = info;
  ++run.outcome.pruned_tensors;
  entry["tensor"] = name;
  entry["pattern"] = info.pattern();
  entry["target"] = info.target;
  entry["sparsity"] = static_cast<double>(zeros) / static_cast<double>(shapeNumel(shape));
  entries.push_back(std::move(entry));
}

// Zeroes the masked values of `w` (the weight's float values, already read) and stores them.
void pruneByMask(Model& m, Run& run, const std::string& name, const SparsityTarget& target, std::vector<float> w,
                 const std::vector<uint8_t>& mask, json& entries) {
  applyMask(w.data(), mask);
  storePruned(m, run, name, target, std::move(w), json::object(), entries);
}

void magnitudeWeight(Model& m, Run& run, const std::string& name, json& entries) {
  const Tensor& t = m.tensors.at(name);
  const SparsityTarget target = targetFor(run.options, name);
  std::vector<float> w = t.toFloats();
  std::vector<uint8_t> mask = magnitudeMask(w.data(), t.dim(0), t.dim(1), target);
  pruneByMask(m, run, name, target, std::move(w), mask, entries);
}

void wandaLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  for (const SiteStats& site : stats.sites) {
    const std::vector<float> norms = inputNorms(site);
    for (const std::string& name : site.linears) {
      if (!run.isTarget(name)) continue;
      const Tensor& t = m.tensors.at(name);
      const SparsityTarget target = targetFor(run.options, name);
      std::vector<float> w = t.toFloats();
      std::vector<uint8_t> mask = wandaMask(w.data(), t.dim(0), t.dim(1), norms, target);
      pruneByMask(m, run, name, target, std::move(w), mask, entries);
    }
  }
}

void sparsegptLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  for (const SiteStats& site : stats.sites) {
    const std::vector<double> hessian = site.hessian();
    const Eigen::MatrixXf h = hessianMatrix(hessian, site.channels, site.site).cast<float>();
    for (const std::string& name : site.linears) {
      if (!run.isTarget(name)) continue;
      const Tensor& t = m.tensors.at(name);
      const int64_t rows = t.dim(0), cols = t.dim(1);
      const SparsityTarget target = targetFor(run.options, name);
      const std::vector<float> w = t.toFloats();
      SparseGptResult r;
      try {
        r = sparsegptPrune(w.data(), rows, cols, hessian, target, run.options.sparsegpt);
      } catch (const Error& e) {
        throw Error(name + ": " + e.what());
      }
      // The same budget pruned by magnitude, for the report: what the second-order update buys.
      std::vector<float> by_magnitude = w;
      applyMask(by_magnitude.data(), magnitudeMask(w.data(), rows, cols, target, MaskScope::Row));
      const double magnitude_error = hessianError(w.data(), by_magnitude.data(), rows, cols, h);
      storePruned(m, run, name, target, std::move(r.weight),
                  {{"error", r.error}, {"magnitude_error", magnitude_error}, {"damp", r.damp_used}}, entries);
    }
  }
}

json optionsKey(const PruneOptions& o) {
  return {{"method", pruneMethodName(o.method)},
          {"target", o.target.name()},
          {"layer_sparsity", o.layer_sparsity},
          {"skip", o.skip},
          {"sparsegpt", {o.sparsegpt.damp, o.sparsegpt.block_size}}};
}

}  // namespace

void checkPruneOptions(const Model& model, const PruneOptions& o) {
  require(!isQuantizedModel(model),
          "the model is already quantized: pruning needs float weights (prune first, then quantize, in one pipeline)");
  const std::vector<std::string> targets = selectLinearWeights(model, o.skip);
  require(!targets.empty(), "nothing to prune: every weight matches a skip pattern (check --skip)");
  if (!o.layer_sparsity.empty()) {
    require(!o.target.isNM(), "layer_sparsity sets unstructured fractions; it cannot be combined with nm");
    require(static_cast<int64_t>(o.layer_sparsity.size()) == model.config.num_layers,
            "layer_sparsity has " + std::to_string(o.layer_sparsity.size()) + " values but the model has " +
                std::to_string(model.config.num_layers) + " layers (give one fraction per layer)");
  }
  for (const std::string& name : targets) {
    const Tensor& t = model.tensors.at(name);
    checkTarget(targetFor(o, name), t.dim(1), name);
    const auto pruned = model.sparsity.find(name);
    if (pruned != model.sparsity.end())
      throw Error("'" + name + "' is already pruned (" + pruned->second.pattern() +
                  "): prune once, with the final target, or skip it");
  }
}

PruneOutcome pruneModel(Model& model, const PruneOptions& options, const std::vector<int32_t>& ids, int64_t num_samples,
                        int64_t seq_len, const LayerwiseCalibrationOptions& calibration,
                        const std::function<void(int64_t, int64_t)>& progress) {
  checkPruneOptions(model, options);
  PruneOutcome outcome;
  Run run{options, selectLinearWeights(model, options.skip), outcome};
  const auto t0 = std::chrono::steady_clock::now();
  // Weights outside the layers (embedding, head: only when not skipped) have no calibration
  // site: magnitude.
  std::vector<std::string> outside;
  for (const std::string& name : run.targets)
    if (layerOf(name) < 0) outside.push_back(name);

  if (!pruneMethodNeedsCalibration(options.method)) {
    for (int64_t i = 0; i < model.config.num_layers; ++i) {
      json entries = json::array();
      for (const std::string& name : run.targets)
        if (layerOf(name) == i) magnitudeWeight(model, run, name, entries);
      run.layers.push_back({{"layer", i}, {"tensors", entries}});
      if (progress) progress(i + 1, model.config.num_layers);
    }
  } else {
    LayerwiseCalibrationOptions keyed = calibration;
    keyed.cache_key_extra = {{"caller", calibration.cache_key_extra}, {"prune", optionsKey(options)}};
    const LayerwiseCalibrationReport cal = calibrateLayerwise(
        model, ids, num_samples, seq_len, keyed,
        [&](Model& m, const LayerStats& stats) {
          json entries = json::array();
          if (options.method == PruneMethod::Wanda) wandaLayer(m, run, stats, entries);
          if (options.method == PruneMethod::SparseGpt) sparsegptLayer(m, run, stats, entries);
          run.layers.push_back({{"layer", stats.layer}, {"tensors", entries}});
        },
        progress);
    addLayerSeconds(cal, run.layers);
    outcome.figures["calibration"] = calibrationFigures(cal, num_samples, seq_len, calibration.stats_cache);
  }
  json outside_entries = json::array();
  for (const std::string& name : outside) magnitudeWeight(model, run, name, outside_entries);
  if (!outside.empty()) outcome.figures["outside_layers"] = outside_entries;

  int64_t pruned_params = 0, zeros = 0;
  for (const std::string& name : run.targets) {
    const Tensor& t = model.tensors.at(name);
    pruned_params += t.numel();
    zeros += static_cast<int64_t>(std::llround(zeroFraction(t) * static_cast<double>(t.numel())));
  }
  outcome.figures["method"] = pruneMethodName(options.method);
  outcome.figures["target"] = options.target.name();
  outcome.figures["layers"] = run.layers;
  outcome.figures["layer_sparsity"] = layerSparsity(model);
  outcome.figures["pruned_tensors"] = outcome.pruned_tensors;
  outcome.figures["sparsity_of_pruned_weights"] = pruned_params ? static_cast<double>(zeros) / pruned_params : 0.0;
  outcome.figures["seconds"] = secondsSince(t0);
  return outcome;
}

json layerSparsity(const Model& model) {
  json out = json::array();
  for (int64_t i = 0; i < model.config.num_layers; ++i) {
    const std::string prefix = names::layer(i, "");
    double zeros = 0, total = 0;
    for (const auto& [name, t] : model.tensors) {
      if (name.rfind(prefix, 0) != 0 || t.shape().size() != 2) continue;
      zeros += zeroFraction(t) * static_cast<double>(t.numel());
      total += static_cast<double>(t.numel());
    }
    out.push_back({{"layer", i}, {"sparsity", total > 0 ? zeros / total : 0.0}});
  }
  return out;
}

}  // namespace slmc
