#include "passes/prune/structured_prune.h"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>

#include "lib/support/error.h"

namespace slmc {

using nlohmann::json;

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Indices 0..n-1 ordered by increasing importance, ties by index, so choices are deterministic.
std::vector<int64_t> byImportance(const std::vector<double>& importance) {
  std::vector<int64_t> order(importance.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return importance[static_cast<size_t>(a)] < importance[static_cast<size_t>(b)];
  });
  return order;
}

std::vector<int64_t> complementOf(const std::vector<int64_t>& kept, int64_t n) {
  std::vector<int64_t> removed;
  for (int64_t i = 0; i < n; ++i)
    if (!std::binary_search(kept.begin(), kept.end(), i)) removed.push_back(i);
  return removed;
}

int64_t parameterCount(const Model& model) {
  int64_t n = 0;
  for (const auto& [name, tensor] : model.tensors) n += tensor.numel();
  return n;
}

json summary(const std::vector<double>& values) {
  if (values.empty()) return json::object();
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  return {{"min", sorted.front()}, {"median", sorted[sorted.size() / 2]}, {"max", sorted.back()}};
}

// What the walk measured for one layer of the original model.
struct LayerMeasure {
  double block_influence = 0;
  std::vector<double> heads;  // per query head (empty when heads are not pruned)
  std::vector<double> ffn;    // per MLP channel (empty when the MLP is not pruned)
};

std::vector<double> groupImportance(const std::vector<double>& heads, const ModelConfig& c) {
  const int64_t rep = c.num_heads / c.num_kv_heads;
  std::vector<double> groups(static_cast<size_t>(c.num_kv_heads), 0.0);
  for (size_t h = 0; h < heads.size(); ++h) groups[h / static_cast<size_t>(rep)] += heads[h];
  return groups;
}

}  // namespace

const char* headRemovalModeName(HeadRemovalPlan::Mode mode) {
  switch (mode) {
    case HeadRemovalPlan::Mode::None: return "none";
    case HeadRemovalPlan::Mode::WholeGroups: return "whole_groups";
    case HeadRemovalPlan::Mode::PerGroup: return "per_group";
  }
  return "?";
}

HeadRemovalPlan planHeadRemoval(const ModelConfig& c, double heads) {
  require(heads >= 0 && heads < 1, "structured prune: heads=" + num(heads) +
                                       " is outside [0, 1) (it is the fraction of attention heads removed per layer)");
  HeadRemovalPlan plan;
  if (heads == 0) return plan;
  require(c.family != ArchFamily::GPT2,
          "structured prune: heads=" + num(heads) +
              ": attention heads cannot be removed from a GPT-2 model (its config.json derives head_dim from "
              "n_embd / n_head); prune ffn or layers instead");
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, rep = nh / nkv;
  const int64_t n = std::llround(heads * static_cast<double>(nh));
  // Counts a grouped-query layout allows: whole groups (multiples of rep) or the same number of
  // heads from every group (multiples of nkv), short of all heads.
  std::vector<std::string> possible;
  for (int64_t k = 1; k < nh; ++k)
    if (k % rep == 0 || k % nkv == 0) possible.push_back(num(static_cast<double>(k) / static_cast<double>(nh)));
  std::string possible_list;
  for (size_t i = 0; i < possible.size(); ++i) possible_list += (i ? ", " : "") + possible[i];
  require(n < nh, "structured prune: heads=" + num(heads) + " removes all " + std::to_string(nh) +
                      " attention heads of every layer (round(" + num(heads) + "·" + std::to_string(nh) +
                      ")); use a smaller fraction" + (possible.empty() ? std::string() : ": " + possible_list));
  plan.heads_removed = n;
  if (n == 0) return plan;
  if (n % rep == 0) {
    plan.mode = HeadRemovalPlan::Mode::WholeGroups;
    plan.groups_removed = n / rep;
  } else if (n % nkv == 0) {
    plan.mode = HeadRemovalPlan::Mode::PerGroup;
    plan.removed_per_group = n / nkv;
  } else {
    throw Error("structured prune: heads=" + num(heads) + " removes " + num(heads * static_cast<double>(nh)) +
                " (rounded: " + std::to_string(n) + ") of " + std::to_string(nh) + " heads; with " +
                std::to_string(nkv) + " KV groups of " + std::to_string(rep) +
                " heads use a fraction that removes a multiple of " + std::to_string(rep) + " (whole groups) or " +
                std::to_string(nkv) + " (the same number from every group): " + possible_list);
  }
  return plan;
}

std::vector<double> headImportance(const SiteStats& attn_out, const Tensor& o_proj, int64_t num_heads,
                                   int64_t head_dim) {
  const int64_t channels = num_heads * head_dim, hidden = o_proj.dim(0);
  require(attn_out.channels == channels && o_proj.dim(1) == channels &&
              static_cast<int64_t>(attn_out.xtx.size()) == channels * channels,
          "internal: head importance of mismatched attention statistics and o_proj " + shapeString(o_proj.shape()));
  using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::vector<float> w = o_proj.toFloats();
  const Eigen::Map<const RowMatrixF> W(w.data(), hidden, channels);
  const Eigen::Map<const RowMatrixF> xtx(attn_out.xtx.data(), channels, channels);
  const double tokens = static_cast<double>(std::max<int64_t>(attn_out.tokens, 1));
  std::vector<double> importance(static_cast<size_t>(num_heads));
  for (int64_t h = 0; h < num_heads; ++h) {
    // tr(W_h·X_hᵀX_h·W_hᵀ) = Σ_{j,k} (X_hᵀX_h)[j,k]·(W_hᵀW_h)[j,k]: a [head_dim]² Gram matrix of
    // o_proj's columns instead of the [hidden]² product. Float64: the sum of many terms of both signs.
    const Eigen::MatrixXd Wh = W.middleCols(h * head_dim, head_dim).cast<double>();
    const Eigen::MatrixXd gram = Wh.transpose() * Wh;
    const Eigen::MatrixXd x = xtx.block(h * head_dim, h * head_dim, head_dim, head_dim).cast<double>();
    importance[static_cast<size_t>(h)] = gram.cwiseProduct(x).sum() / tokens;
  }
  return importance;
}

std::vector<double> ffnChannelImportance(const SiteStats& mlp_out, const Tensor& down_proj) {
  const int64_t channels = down_proj.dim(1), hidden = down_proj.dim(0);
  require(mlp_out.channels == channels && static_cast<int64_t>(mlp_out.xtx.size()) == channels * channels,
          "internal: MLP channel importance of mismatched statistics and down_proj " + shapeString(down_proj.shape()));
  const std::vector<float> w = down_proj.toFloats();
  std::vector<double> column_sq(static_cast<size_t>(channels), 0.0);
  for (int64_t r = 0; r < hidden; ++r) {  // row by row: the weight is row-major
    const float* row = w.data() + r * channels;
    for (int64_t c = 0; c < channels; ++c) column_sq[static_cast<size_t>(c)] += static_cast<double>(row[c]) * row[c];
  }
  const double tokens = static_cast<double>(std::max<int64_t>(mlp_out.tokens, 1));
  std::vector<double> importance(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    importance[static_cast<size_t>(c)] =
        static_cast<double>(mlp_out.xtx[static_cast<size_t>(c * channels + c)]) / tokens * column_sq[static_cast<size_t>(c)];
  return importance;
}

double blockInfluence(const Tensor& h_in, const Tensor& h_out) {
  require(h_in.shape() == h_out.shape() && !h_in.shape().empty(),
          "internal: block influence of hidden states " + shapeString(h_in.shape()) + " and " +
              shapeString(h_out.shape()));
  const int64_t hidden = h_in.shape().back(), rows = h_in.numel() / std::max<int64_t>(hidden, 1);
  if (rows == 0) return 0;
  const float* a = h_in.floats();
  const float* b = h_out.floats();
  double cos_sum = 0;
#pragma omp parallel for reduction(+ : cos_sum) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < hidden; ++i) {
      const double x = a[r * hidden + i], y = b[r * hidden + i];
      dot += x * y, aa += x * x, bb += y * y;
    }
    // A zero vector has no direction: it "keeps" another zero vector and turns anything else fully.
    cos_sum += aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
  }
  return 1.0 - cos_sum / static_cast<double>(rows);
}

LayerHeads chooseHeads(const std::vector<double>& importance, const ModelConfig& c, const HeadRemovalPlan& plan) {
  const int64_t rep = c.num_heads / c.num_kv_heads;
  require(static_cast<int64_t>(importance.size()) == c.num_heads, "internal: head importance of the wrong size");
  LayerHeads kept;
  for (int64_t g = 0; g < c.num_kv_heads; ++g) kept.kv_heads.push_back(g);
  switch (plan.mode) {
    case HeadRemovalPlan::Mode::None:
      for (int64_t h = 0; h < c.num_heads; ++h) kept.q_heads.push_back(h);
      break;
    case HeadRemovalPlan::Mode::WholeGroups: {
      const std::vector<int64_t> order = byImportance(groupImportance(importance, c));
      kept.kv_heads.assign(order.begin() + plan.groups_removed, order.end());
      std::sort(kept.kv_heads.begin(), kept.kv_heads.end());
      for (int64_t g : kept.kv_heads)
        for (int64_t j = 0; j < rep; ++j) kept.q_heads.push_back(g * rep + j);
      break;
    }
    case HeadRemovalPlan::Mode::PerGroup:
      for (int64_t g = 0; g < c.num_kv_heads; ++g) {
        const std::vector<double> group(importance.begin() + g * rep, importance.begin() + (g + 1) * rep);
        std::vector<int64_t> order = byImportance(group);
        order.erase(order.begin(), order.begin() + plan.removed_per_group);
        std::sort(order.begin(), order.end());
        for (int64_t j : order) kept.q_heads.push_back(g * rep + j);
      }
      break;
  }
  return kept;
}

std::vector<int64_t> keptChannels(const std::vector<double>& importance, int64_t remove) {
  std::vector<int64_t> order = byImportance(importance);
  order.erase(order.begin(), order.begin() + std::min<int64_t>(remove, static_cast<int64_t>(order.size())));
  std::sort(order.begin(), order.end());
  return order;
}

StructuredPruneOutcome structuredPrune(Model& model, const StructuredPruneOptions& options,
                                       const std::vector<int32_t>& ids, int64_t num_samples, int64_t seq_len,
                                       const LayerwiseOptions& forward,
                                       const std::function<void(int64_t, int64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig c = model.config;  // the original's, while `model` changes at the end
  // Everything a user can get wrong is checked before the (long) walk.
  requireFloatDenseModel(model, "structured pruning");
  require(options.ffn >= 0 && options.ffn < 1, "structured prune: ffn=" + num(options.ffn) +
                                                   " is outside [0, 1) (it is the fraction of MLP channels removed "
                                                   "per layer)");
  require(options.layers >= 0 && options.layers < c.num_layers,
          "structured prune: layers=" + std::to_string(options.layers) + " is outside [0, " +
              std::to_string(c.num_layers - 1) + "] for a model of " + std::to_string(c.num_layers) +
              " layers (at least one layer must stay)");
  const HeadRemovalPlan plan = planHeadRemoval(c, options.heads);
  const int64_t ffn_removed = std::llround(options.ffn * static_cast<double>(c.intermediate_size));
  require(ffn_removed < c.intermediate_size,
          "structured prune: ffn=" + num(options.ffn) + " removes all " + std::to_string(c.intermediate_size) +
              " MLP channels of every layer; use a smaller fraction");

  StructuredPruneOutcome outcome;
  const auto roundingWarning = [&](const char* what, double fraction, int64_t total, int64_t removed) {
    const double asked = fraction * static_cast<double>(total);
    if (fraction > 0 && asked != static_cast<double>(removed))
      outcome.warnings.push_back(std::string("structured prune: ") + what + "=" + num(fraction) + " asks for " +
                                 num(asked) + " of " + std::to_string(total) + " per layer; removed " +
                                 std::to_string(removed) + " (" +
                                 num(static_cast<double>(removed) / static_cast<double>(total)) + ")");
  };
  roundingWarning("heads", options.heads, c.num_heads, plan.heads_removed);
  roundingWarning("ffn", options.ffn, c.intermediate_size, ffn_removed);
  const bool prune_heads = plan.mode != HeadRemovalPlan::Mode::None, prune_ffn = ffn_removed > 0;
  const int64_t params_before = parameterCount(model);
  outcome.figures["parameters_before"] = params_before;
  if (!prune_heads && !prune_ffn && options.layers == 0) {
    outcome.warnings.push_back("structured prune: nothing to remove (heads, ffn and layers remove nothing)");
    outcome.figures["parameters_after"] = params_before;
    return outcome;
  }

  // One walk over the original model. collect() (a second run of each layer) only when heads or
  // channels are ranked; the depth ranking needs just the hidden states around each layer.
  // No rows are sampled: only XᵀX is used.
  LayerwiseOptions walk_options = forward;
  walk_options.sample_rows = 0;
  LayerwiseForward walk(model, ids, num_samples, seq_len, walk_options);
  std::vector<LayerMeasure> measures(static_cast<size_t>(c.num_layers));
  Tensor h_in = walk.hiddenStates();
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerMeasure& m = measures[static_cast<size_t>(i)];
    if (prune_heads || prune_ffn) {
      const LayerStats stats = walk.collect(model);
      if (prune_heads)
        m.heads = headImportance(stats.site("attn_out"), model.tensors.at(names::layer(i, "self_attn.o_proj.weight")),
                                 c.num_heads, c.head_dim);
      if (prune_ffn)
        m.ffn = ffnChannelImportance(stats.site("mlp_out"), model.tensors.at(names::layer(i, "mlp.down_proj.weight")));
    }
    walk.advance(model);
    Tensor h_out = walk.hiddenStates();
    m.block_influence = blockInfluence(h_in, h_out);
    h_in = std::move(h_out);
    if (progress) progress(i + 1, c.num_layers);
  }

  // Depth: the layers that turn the residual stream least.
  std::vector<double> influence;
  for (const LayerMeasure& m : measures) influence.push_back(m.block_influence);
  std::vector<int64_t> removed_layers = byImportance(influence);
  removed_layers.resize(static_cast<size_t>(options.layers));
  std::sort(removed_layers.begin(), removed_layers.end());

  // Heads and channels of the remaining layers, chosen from each layer's own measures, applied
  // after renumbering. Edits go to a copy so that a failure leaves `model` unchanged.
  Model pruned = model;
  removeLayers(pruned, removed_layers);
  std::vector<LayerHeads> heads_kept;
  std::vector<std::vector<int64_t>> channels_kept;
  json per_layer = json::array();
  for (int64_t i = 0, new_index = 0; i < c.num_layers; ++i) {
    const LayerMeasure& m = measures[static_cast<size_t>(i)];
    const bool dropped = std::binary_search(removed_layers.begin(), removed_layers.end(), i);
    json entry = {{"layer", i}, {"block_influence", m.block_influence}, {"removed", dropped}};
    if (prune_heads) {
      entry["head_importance"] = m.heads;
      entry["kv_group_importance"] = groupImportance(m.heads, c);
    }
    if (prune_ffn) entry["ffn_importance"] = summary(m.ffn);
    if (!dropped) {
      entry["new_index"] = new_index++;
      if (prune_heads) {
        LayerHeads kept = chooseHeads(m.heads, c, plan);
        entry["removed_heads"] = complementOf(kept.q_heads, c.num_heads);
        entry["removed_kv_groups"] = complementOf(kept.kv_heads, c.num_kv_heads);
        heads_kept.push_back(std::move(kept));
      }
      if (prune_ffn) {
        std::vector<int64_t> kept = keptChannels(m.ffn, ffn_removed);
        const std::vector<int64_t> removed = complementOf(kept, c.intermediate_size);
        double removed_max = 0;
        for (int64_t ch : removed) removed_max = std::max(removed_max, m.ffn[static_cast<size_t>(ch)]);
        entry["removed_channels"] = removed;
        entry["removed_ffn_importance_max"] = removed_max;
        channels_kept.push_back(std::move(kept));
      }
    }
    per_layer.push_back(std::move(entry));
  }
  if (prune_heads) keepAttentionHeads(pruned, heads_kept);
  if (prune_ffn) keepFfnChannels(pruned, channels_kept);
  model = std::move(pruned);

  const ModelConfig& after = model.config;
  outcome.figures["heads"] = {{"requested", options.heads},
                              {"mode", headRemovalModeName(plan.mode)},
                              {"removed_per_layer", plan.heads_removed},
                              {"num_heads", {c.num_heads, after.num_heads}},
                              {"num_kv_heads", {c.num_kv_heads, after.num_kv_heads}}};
  outcome.figures["ffn"] = {{"requested", options.ffn},
                            {"removed_per_layer", ffn_removed},
                            {"intermediate_size", {c.intermediate_size, after.intermediate_size}}};
  outcome.figures["layers_removed"] = removed_layers;
  outcome.figures["num_layers"] = {c.num_layers, after.num_layers};
  outcome.figures["per_layer"] = per_layer;
  outcome.figures["parameters_after"] = parameterCount(model);
  outcome.figures["calibration"] = {{"samples", num_samples}, {"seq_len", seq_len}, {"tokens", num_samples * seq_len}};
  outcome.figures["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return outcome;
}

}  // namespace slmc
