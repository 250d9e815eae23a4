#include "passes/quantize/quantize_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <regex>

#include "lib/support/error.h"
#include "passes/quantize/bit_budget.h"
#include "passes/quantize/grid_search.h"
#include "passes/quantize/rtn.h"
#include "passes/quantize/second_order.h"
#include "passes/quantize/smoothquant.h"

namespace slmc {

using nlohmann::json;

QuantMethod parseQuantMethod(const std::string& name) {
  if (name == "rtn") return QuantMethod::Rtn;
  if (name == "gptq") return QuantMethod::Gptq;
  if (name == "awq") return QuantMethod::Awq;
  if (name == "smoothquant") return QuantMethod::SmoothQuant;
  throw Error("unknown quantization method '" + name + "' (use rtn, gptq, awq or smoothquant)");
}

const char* quantMethodName(QuantMethod m) {
  switch (m) {
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Gptq: return "gptq";
    case QuantMethod::Awq: return "awq";
    case QuantMethod::SmoothQuant: return "smoothquant";
  }
  return "?";
}

bool methodNeedsCalibration(QuantMethod m) { return m != QuantMethod::Rtn; }

bool usesCalibration(const QuantizeOptions& o) {
  return methodNeedsCalibration(o.method) || o.rtn_importance || o.budgeted();
}

namespace {
bool isEmbeddingOrHead(const std::string& name) { return name == names::kEmbedTokens || name == names::kLmHead; }
}  // namespace

std::vector<std::string> quantizationTargets(const Model& model, const QuantizeOptions& options) {
  if (!options.embedding) return selectLinearWeights(model, options.keep);
  std::vector<std::string> targets;
  const std::vector<std::string> selected = selectLinearWeights(model, options.keep);
  for (const std::string& name : selectLinearWeights(model, {}))
    if (isEmbeddingOrHead(name) || std::find(selected.begin(), selected.end(), name) != selected.end()) targets.push_back(name);
  return targets;
}

std::pair<std::string, QuantScheme> parseSchemeRule(const std::string& text) {
  const size_t eq = text.rfind('=');
  require(eq != std::string::npos && eq > 0,
          "scheme rule '" + text + "' is not PATTERN=SCHEME (e.g. mlp.down_proj=int8-g32)");
  return {text.substr(0, eq), parseSchemeName(text.substr(eq + 1))};
}

QuantScheme schemeForTensor(const std::string& name, int64_t cols, const QuantizeOptions& o,
                            std::vector<std::string>& warnings) {
  QuantScheme s = o.scheme;
  if (const auto placed = o.tensor_schemes.find(name); placed != o.tensor_schemes.end()) {
    s = placed->second;
  } else {
    for (const auto& [pattern, scheme] : o.scheme_rules)
      if (matchesNamePattern(name, pattern)) {
        s = scheme;
        break;
      }
  }
  if (s.group_size > 0 && cols % s.group_size != 0) {
    require(!o.strict_groups, "tensor '" + name + "' has rows of " + std::to_string(cols) + " columns, which group size " +
                                  std::to_string(s.group_size) +
                                  " does not divide (choose a group size that divides it, or drop strict_groups to "
                                  "fall back to per-channel for such tensors)");
    warnings.push_back(name + ": " + std::to_string(cols) + " columns are not a multiple of group size " +
                       std::to_string(s.group_size) + "; quantized per-channel instead");
    s.group_size = 0;
  }
  return s;
}

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> floatsOf(const Model& m, const std::string& name) { return m.tensors.at(name).toFloats(); }

void setFloats(Model& m, const std::string& name, std::vector<float> values) {
  const Shape shape = m.tensors.at(name).shape();
  m.tensors.set(name, Tensor::fromFloats(shape, std::move(values)));
}

struct Weight {
  std::string name;
  int64_t rows, cols;
  std::vector<float> values;
};

Weight weightOf(const Model& m, const std::string& name) {
  const Tensor& t = m.tensors.at(name);
  return {name, t.dim(0), t.dim(1), t.toFloats()};
}

bool isTarget(const std::vector<std::string>& targets, const std::string& name) {
  return std::find(targets.begin(), targets.end(), name) != targets.end();
}

// The pruning mask of a sparse weight (1 where the weight is exactly 0), or empty when the weight
// is dense: the zeros a pruning pass left must stay zeros once quantized.
std::vector<uint8_t> prunedMask(const Model& m, const std::string& name) {
  if (m.sparsity.count(name) == 0) return {};
  const std::vector<float> w = m.tensors.at(name).toFloats();
  std::vector<uint8_t> mask(w.size());
  for (size_t i = 0; i < w.size(); ++i) mask[i] = w[i] == 0.0f;
  return mask;
}

// setQuantized, with the pruned weights of a sparse weight set to their group's zero point (so
// they dequantize to exactly 0 and the N:M pattern holds in the quantized model).
void setQuantizedKeepingZeros(Model& m, const std::string& name, QuantizedTensor q, const std::vector<uint8_t>& mask) {
  if (!mask.empty()) {
    const int64_t groups = q.groups();
    const int64_t group_size = q.cols / groups;
    for (int64_t r = 0; r < q.rows; ++r)
      for (int64_t c = 0; c < q.cols; ++c) {
        const size_t i = static_cast<size_t>(r * q.cols + c);
        if (mask[i]) q.codes[i] = q.zeros[static_cast<size_t>(r * groups + c / group_size)];
      }
  }
  m.setQuantized(name, std::move(q));
}

// Everything a layer transform shares: options, targets, the running figures.
struct Run {
  const QuantizeOptions& options;
  std::vector<std::string> targets;
  QuantizeOutcome& outcome;
  json layers = json::array();
};

// RTN of one weight: on searched grids (importance: [cols] E[x²] per input column, or null for
// uniform) or on the observer's. The entry's error is Σ importance·(ŵ − w)² (uniform: the plain
// squared error), rtn_error the same on the plain grid (gridForRange), so a table shows what the
// search gained.
void quantizeRtnWeight(Model& m, Run& run, const std::string& name, json& entries, const float* importance = nullptr,
                       std::optional<QuantScheme> forced = std::nullopt) {
  const Weight w = weightOf(m, name);
  const QuantScheme scheme = forced ? *forced : schemeForTensor(name, w.cols, run.options, run.outcome.warnings);
  const QuantizeOptions& o = run.options;
  const bool search = o.scale_search && o.observer.kind == ObserverKind::MinMax;
  QuantizedTensor q = search ? quantizeOnGrids(w.values.data(), w.rows, w.cols, scheme,
                                               searchedGrids(w.values.data(), w.rows, w.cols, scheme, importance))
                             : quantizeRtnObserved(w.values.data(), w.rows, w.cols, scheme, o.observer);
  const auto error = [&](const QuantizedTensor& t) {
    const std::vector<float> deq = t.dequantize().toFloats();
    double e = 0;
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t c = 0; c < w.cols; ++c) {
        const size_t i = static_cast<size_t>(r * w.cols + c);
        const double d = static_cast<double>(deq[i]) - w.values[i];
        e += (importance ? importance[c] : 1.0f) * d * d;
      }
    return e;
  };
  json entry = {{"tensor", name}, {"method", "rtn"}, {"scheme", schemeName(scheme)}, {"bits", scheme.bits()},
                {"error", error(q)},
                {"rtn_error", error(quantizeRtn(w.values.data(), w.rows, w.cols, scheme))}};
  if (importance) entry["weighted"] = true;
  setQuantizedKeepingZeros(m, name, std::move(q), prunedMask(m, name));
  ++run.outcome.quantized_tensors;
  entries.push_back(std::move(entry));
}

// RTN of a layer's weights with the importance of their calibration site.
void rtnLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  for (const SiteStats& site : stats.sites) {
    std::vector<float> importance(static_cast<size_t>(site.channels));
    const float tokens = static_cast<float>(std::max<int64_t>(site.tokens, 1));
    for (int64_t j = 0; j < site.channels; ++j)
      importance[static_cast<size_t>(j)] = site.xtx[static_cast<size_t>(j * site.channels + j)] / tokens;
    for (const std::string& name : site.linears)
      if (isTarget(run.targets, name)) quantizeRtnWeight(m, run, name, entries, importance.data());
  }
}

// Divides channel j of the operation that produces a site's input by s_j, so the consumers
// (whose columns were multiplied by s_j) compute the same products: a norm's weight (and bias),
// or rows of the linear before (v_proj before o_proj, up_proj before down_proj).
void foldIntoPredecessor(Model& m, const std::string& predecessor, bool is_linear, const std::vector<float>& s) {
  const std::string weight = predecessor + ".weight", bias = predecessor + ".bias";
  std::vector<float> w = floatsOf(m, weight);
  const size_t channels = s.size();
  const size_t cols = is_linear ? w.size() / channels : 1;
  for (size_t j = 0; j < channels; ++j)
    for (size_t c = 0; c < cols; ++c) w[j * cols + c] /= s[j];
  setFloats(m, weight, std::move(w));
  if (m.tensors.contains(bias)) {
    std::vector<float> b = floatsOf(m, bias);
    for (size_t j = 0; j < channels; ++j) b[j] /= s[j];
    setFloats(m, bias, std::move(b));
  }
}

void scaleColumns(Model& m, const std::string& name, const std::vector<float>& s) {
  Weight w = weightOf(m, name);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) w.values[static_cast<size_t>(r * w.cols + c)] *= s[static_cast<size_t>(c)];
  setFloats(m, name, std::move(w.values));
}

// The operation whose output is a site's input, when scales can be folded into it exactly.
struct Predecessor {
  std::string name;  // without ".weight"
  bool is_linear = false;
};
bool foldablePredecessor(const ModelConfig& c, int64_t layer, const std::string& site, Predecessor& out,
                         std::string& why_not) {
  if (site == "attn_in") {
    out = {names::layer(layer, "input_layernorm"), false};
    return true;
  }
  if (site == "mlp_in") {
    out = {names::layer(layer, "post_attention_layernorm"), false};
    return true;
  }
  if (site == "attn_out") {
    // o_proj's input channel h*hd+d comes from v head h/rep: a per-channel scale folds into v_proj
    // only when every q head has its own v head.
    if (c.num_kv_heads != c.num_heads) {
      why_not = "grouped-query attention (v_proj rows are shared by several heads)";
      return false;
    }
    out = {names::layer(layer, "self_attn.v_proj"), true};
    return true;
  }
  if (site == "mlp_out") {
    if (!c.gatedMlp()) {
      why_not = "the GELU before down_proj is not scale-equivariant";
      return false;
    }
    out = {names::layer(layer, "mlp.up_proj"), true};  // silu(gate) * up is linear in up
    return true;
  }
  return false;
}

void gptqLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  for (const SiteStats& site : stats.sites) {
    const std::vector<double> hessian = site.hessian();
    for (const std::string& name : site.linears) {
      if (!isTarget(run.targets, name)) continue;
      const Weight w = weightOf(m, name);
      const QuantScheme scheme = schemeForTensor(name, w.cols, run.options, run.outcome.warnings);
      const std::vector<uint8_t> pruned = prunedMask(m, name);
      GptqResult r;
      try {
        r = gptqQuantize(w.values.data(), w.rows, w.cols, hessian, scheme, run.options.gptq,
                         pruned.empty() ? nullptr : pruned.data());
      } catch (const Error& e) {
        throw Error(name + ": " + e.what());
      }
      setQuantizedKeepingZeros(m, name, std::move(r.q), pruned);
      ++run.outcome.quantized_tensors;
      entries.push_back({{"tensor", name},
                         {"method", "gptq"},
                         {"scheme", schemeName(scheme)},
                         {"bits", scheme.bits()},
                         {"error", r.error},
                         {"rtn_error", r.rtn_error},
                         {"damp", r.damp_used}});
    }
  }
}

void awqLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  // 1. Search every site's scales on the layer as it came in, 2. fold them all, 3. quantize each
  //    weight with the clipping search on its scaled input (llm-awq's order).
  std::map<std::string, std::vector<float>> site_scales;
  for (const SiteStats& site : stats.sites) {
    const bool all_targets = std::all_of(site.linears.begin(), site.linears.end(),
                                         [&](const std::string& n) { return isTarget(run.targets, n); });
    Predecessor pred;
    std::string why_not;
    if (!all_targets) continue;
    if (!foldablePredecessor(m.config, stats.layer, site.site, pred, why_not)) {
      entries.push_back({{"site", site.site}, {"scaling", "skipped: " + why_not}});
      continue;
    }
    std::vector<Weight> weights;
    std::vector<AwqLinearRef> refs;
    for (const std::string& name : site.linears) weights.push_back(weightOf(m, name));
    for (const Weight& w : weights) refs.push_back({w.values.data(), w.rows});
    std::vector<float> x_abs_mean(site.abs_sum.size());
    for (size_t j = 0; j < x_abs_mean.size(); ++j)
      x_abs_mean[j] = site.abs_sum[j] / static_cast<float>(std::max<int64_t>(site.tokens, 1));
    // The search measures the output error on the site's own grid; a per-channel fallback of
    // one member applies to the search too.
    const QuantScheme scheme = schemeForTensor(site.linears.front(), site.channels, run.options, run.outcome.warnings);
    const AwqScaleResult r = awqSearchScales(refs, site.channels, x_abs_mean, site.hessian(), scheme, run.options.awq);
    entries.push_back({{"site", site.site},
                       {"scaling", "alpha " + std::to_string(r.alpha)},
                       {"alpha", r.alpha},
                       {"loss_rtn", r.loss_before},
                       {"loss_scaled", r.loss_after}});
    site_scales[site.site] = r.scales;
  }
  for (const auto& [site_name, s] : site_scales) {
    const SiteStats& site = stats.site(site_name);
    Predecessor pred;
    std::string why_not;
    foldablePredecessor(m.config, stats.layer, site_name, pred, why_not);
    for (const std::string& name : site.linears) scaleColumns(m, name, s);
    foldIntoPredecessor(m, pred.name, pred.is_linear, s);
  }
  for (const SiteStats& site : stats.sites) {
    auto it = site_scales.find(site.site);
    const std::vector<double> hessian =
        it == site_scales.end() ? site.hessian() : scaleHessian(site.hessian(), it->second);
    for (const std::string& name : site.linears) {
      if (!isTarget(run.targets, name)) continue;
      const Weight w = weightOf(m, name);
      const QuantScheme scheme = schemeForTensor(name, w.cols, run.options, run.outcome.warnings);
      setQuantizedKeepingZeros(m, name, awqQuantize(w.values.data(), w.rows, w.cols, hessian, scheme, run.options.awq),
                               prunedMask(m, name));
      ++run.outcome.quantized_tensors;
      entries.push_back({{"tensor", name}, {"method", "awq"}, {"scheme", schemeName(scheme)}, {"bits", scheme.bits()}});
    }
  }
}

void smoothQuantLayer(Model& m, Run& run, const LayerStats& stats, json& entries) {
  const QuantizeOptions& o = run.options;
  for (const SiteStats& site : stats.sites) {
    std::vector<float> s(static_cast<size_t>(site.channels), 1.0f);
    // Smoothing migrates difficulty from activations to weights where a norm can absorb it
    // (SmoothQuant smooths the inputs of q/k/v and of the MLP's first projections).
    if (site.site == "attn_in" || site.site == "mlp_in") {
      std::vector<Weight> weights;
      std::vector<LinearRef> refs;
      for (const std::string& name : site.linears) weights.push_back(weightOf(m, name));
      for (const Weight& w : weights) refs.push_back({w.values.data(), w.rows});
      s = smoothQuantScales(site.abs_max, refs, site.channels, o.smooth_alpha);
      Predecessor pred;
      std::string why_not;
      foldablePredecessor(m.config, stats.layer, site.site, pred, why_not);
      for (const std::string& name : site.linears) scaleColumns(m, name, s);
      foldIntoPredecessor(m, pred.name, pred.is_linear, s);
    }
    ActivationQuant aq;
    aq.bits = o.act_bits;
    aq.dynamic = o.act_dynamic;
    if (!o.act_dynamic) {
      require(site.sample_rows > 0, "internal: static activation scales need sampled rows");
      std::vector<float> smoothed(site.sample.size());
      const size_t c = static_cast<size_t>(site.channels);
      for (size_t i = 0; i < smoothed.size(); ++i) smoothed[i] = site.sample[i] / s[i % c];
      const ValueRange r = observeRange(smoothed.data(), static_cast<int64_t>(smoothed.size()), o.act_bits,
                                        /*symmetric=*/true, o.act_observer);
      const float amax = std::max(std::fabs(r.lo), std::fabs(r.hi));
      aq.scale = std::max(amax, 1e-8f) / static_cast<float>((1 << (o.act_bits - 1)) - 1);
    }
    for (const std::string& name : site.linears) {
      m.activation_quant[name] = aq;
      if (isTarget(run.targets, name)) quantizeRtnWeight(m, run, name, entries);
    }
    json e = {{"site", site.site}, {"activation_bits", aq.bits}, {"activation_mode", aq.dynamic ? "dynamic" : "static"}};
    if (!aq.dynamic) e["activation_scale"] = aq.scale;
    if (site.site == "attn_in" || site.site == "mlp_in")
      e["smoothing_max"] = *std::max_element(s.begin(), s.end()), e["smoothing_min"] = *std::min_element(s.begin(), s.end());
    entries.push_back(e);
  }
}

std::vector<std::string> schemeRulesText(const QuantizeOptions& o) {
  std::vector<std::string> out;
  for (const auto& [pattern, scheme] : o.scheme_rules) out.push_back(pattern + "=" + schemeName(scheme));
  return out;
}

// The options with the embedding's scheme as the main one (for schemeForTensor's fallback).
QuantizeOptions embeddingOptions(const QuantizeOptions& o) {
  QuantizeOptions e = o;
  e.scheme = *o.embedding;
  return e;
}

// Everything in the options that changes what later layers see: part of the stats cache key, so
// a cache is never replayed for another method or setting.
json optionsKey(const QuantizeOptions& o) {
  return {{"method", quantMethodName(o.method)},
          {"scheme", schemeName(o.scheme)},
          {"strict_groups", o.strict_groups},
          {"keep", o.keep},
          {"observer", {observerKindName(o.observer.kind), o.observer.percentile, o.observer.mse_steps}},
          {"scale_search", o.scale_search},
          {"scheme_rules", schemeRulesText(o)},
          {"embedding", o.embedding ? schemeName(*o.embedding) : "keep"},
          {"budget", {o.target_bytes, o.target_bpw, o.budget_samples, schemeNames(o.budget_candidates)}},
          {"bf16", o.bf16},
          {"gptq", {o.gptq.damp, o.gptq.block_size, o.gptq.act_order}},
          {"awq", {o.awq.grid, o.awq.clip, o.awq.clip_grid, o.awq.max_shrink}},
          {"smoothquant", {o.smooth_alpha, o.act_bits, o.act_dynamic, observerKindName(o.act_observer.kind)}}};
}

}  // namespace

QuantizeOutcome quantizeModel(Model& model, const QuantizeOptions& requested, const std::vector<int32_t>& ids,
                              int64_t num_samples, int64_t seq_len, const LayerwiseCalibrationOptions& calibration,
                              const std::function<void(int64_t, int64_t)>& progress) {
  validateBits(requested.scheme.bits());
  QuantizeOutcome outcome;
  QuantizeOptions options = requested;  // a budget adds the placement it chooses
  Run run{options, quantizationTargets(model, options), outcome};
  require(!run.targets.empty(), "nothing to quantize: every weight matches a keep pattern (check --keep)");
  const auto t0 = std::chrono::steady_clock::now();
  // Weights outside the layers (embedding, head) have no calibration site: RTN.
  std::vector<std::string> outside;
  for (const std::string& name : run.targets)
    if (name.rfind("model.layers.", 0) != 0) outside.push_back(name);
  if (options.budgeted()) {  // every weight quantized here, the embedding too, gets a placed scheme
    BitPlacement placement = placeBits(model, options, run.targets, ids, num_samples, seq_len);
    options.tensor_schemes = std::move(placement.schemes);
    outcome.figures["bit_budget"] = std::move(placement.figures);
  }

  if (!usesCalibration(options)) {
    for (int64_t i = 0; i < model.config.num_layers; ++i) {
      json entries = json::array();
      const std::string prefix = names::layer(i, "");
      for (const std::string& name : run.targets)
        if (name.rfind(prefix, 0) == 0) quantizeRtnWeight(model, run, name, entries);
      run.layers.push_back({{"layer", i}, {"tensors", entries}});
      if (progress) progress(i + 1, model.config.num_layers);
    }
  } else {
    LayerwiseCalibrationOptions keyed = calibration;
    keyed.cache_key_extra = {{"caller", calibration.cache_key_extra}, {"quantize", optionsKey(options)}};
    const LayerwiseCalibrationReport cal = calibrateLayerwise(
        model, ids, num_samples, seq_len, keyed,
        [&](Model& m, const LayerStats& stats) {
          json entries = json::array();
          switch (options.method) {
            case QuantMethod::Gptq: gptqLayer(m, run, stats, entries); break;
            case QuantMethod::Awq: awqLayer(m, run, stats, entries); break;
            case QuantMethod::SmoothQuant: smoothQuantLayer(m, run, stats, entries); break;
            case QuantMethod::Rtn: rtnLayer(m, run, stats, entries); break;
          }
          run.layers.push_back({{"layer", stats.layer}, {"tensors", entries}});
        },
        progress);
    addLayerSeconds(cal, run.layers);
    outcome.figures["calibration"] = calibrationFigures(cal, num_samples, seq_len, calibration.stats_cache);
  }
  json outside_entries = json::array();
  for (const std::string& name : outside) {
    const bool own_scheme = options.embedding && isEmbeddingOrHead(name);
    quantizeRtnWeight(model, run, name, outside_entries, nullptr,
                      own_scheme ? std::optional<QuantScheme>(schemeForTensor(name, model.tensors.at(name).dim(1),
                                                                              embeddingOptions(options),
                                                                              run.outcome.warnings))
                                 : std::nullopt);
  }
  if (!outside.empty()) outcome.figures["outside_layers"] = outside_entries;
  outcome.figures["method"] = quantMethodName(options.method);
  outcome.figures["scheme"] = schemeName(options.scheme);
  outcome.figures["layers"] = run.layers;
  outcome.figures["quantized_tensors"] = outcome.quantized_tensors;
  outcome.figures["seconds"] = secondsSince(t0);
  // A repeated fallback (one per tensor) reads better once per distinct message.
  std::sort(outcome.warnings.begin(), outcome.warnings.end());
  outcome.warnings.erase(std::unique(outcome.warnings.begin(), outcome.warnings.end()), outcome.warnings.end());
  return outcome;
}

}  // namespace slmc
