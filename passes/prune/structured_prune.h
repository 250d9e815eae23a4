// Structured pruning: removes whole attention heads (or KV groups), MLP channels and layers, and
// physically shrinks the model (lib/model/model_surgery.h), so the result is a smaller model of the same
// architecture rather than a sparse one.
//
// Importance comes from one layer-wise walk over calibration data on the original model:
//   head h of a layer:    E‖W_o[:, h] x_h‖² = tr(W_h·X_hᵀX_h·W_hᵀ)/n over the attention output x
//                         (W_h: o_proj's columns of head h), i.e. the exact expected squared
//                         contribution of the head to the layer's output; a KV group: its heads' sum.
//   MLP channel c:        E[x_c²]·‖W_down[:, c]‖² over the MLP activation x (the diagonal of the
//                         same quantity: cross terms between channels are ignored).
//   layer (depth):        block influence BI = 1 − mean over tokens of cos(h_in, h_out) (Men et al.
//                         2024, "ShortGPT"): a layer that barely turns the residual stream matters
//                         least.
// Hugging Face configs describe every layer alike, so every layer loses the same number of heads
// and channels (which ones is chosen per layer). Layers go first; heads and channels are then
// removed from the remaining layers.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/model/model_surgery.h"
#include "lib/reference/activation_stats.h"
#include "lib/reference/layerwise_forward.h"

namespace slmc {

struct StructuredPruneOptions {
  double heads = 0;    // fraction of query heads removed from every layer, in [0, 1)
  double ffn = 0;      // fraction of MLP channels removed from every layer, in [0, 1)
  int64_t layers = 0;  // whole layers removed, in [0, num_layers)
};

struct StructuredPruneOutcome {
  nlohmann::json figures = nlohmann::json::object();
  std::vector<std::string> warnings;
};

// How a head fraction maps onto the model's grouped-query layout: round(heads·num_heads) query
// heads go per layer, as whole KV groups when that count is a multiple of the group size (keeps
// the GQA ratio), else as the same number of heads from every group.
struct HeadRemovalPlan {
  enum class Mode { None, WholeGroups, PerGroup };
  Mode mode = Mode::None;
  int64_t heads_removed = 0;      // query heads removed per layer
  int64_t groups_removed = 0;     // WholeGroups: KV groups removed per layer
  int64_t removed_per_group = 0;  // PerGroup: query heads removed from each group
};
const char* headRemovalModeName(HeadRemovalPlan::Mode mode);

// Throws Error for a fraction outside [0, 1), one that removes every head, one no grouped-query
// layout allows (naming the fractions that work), and any head removal on GPT-2.
HeadRemovalPlan planHeadRemoval(const ModelConfig& config, double heads);

// Per query head, the expected squared contribution to o_proj's output per token (see above).
// attn_out: the o_proj input site's statistics; o_proj: [hidden, num_heads·head_dim].
std::vector<double> headImportance(const SiteStats& attn_out, const Tensor& o_proj, int64_t num_heads,
                                   int64_t head_dim);
// Per MLP channel, E[x_c²]·‖W_down[:, c]‖². mlp_out: down_proj's input site; down_proj: [hidden, channels].
std::vector<double> ffnChannelImportance(const SiteStats& mlp_out, const Tensor& down_proj);
// 1 − mean over tokens of cos(h_in, h_out); both [..., hidden] float32 of the same shape.
double blockInfluence(const Tensor& h_in, const Tensor& h_out);

// The heads one layer keeps under `plan`: the least important groups (or heads of each group) go;
// ties go to the lower index.
LayerHeads chooseHeads(const std::vector<double>& head_importance, const ModelConfig& config,
                       const HeadRemovalPlan& plan);
// The channels kept (sorted) when the `remove` least important go; ties go to the lower index.
std::vector<int64_t> keptChannels(const std::vector<double>& importance, int64_t remove);

// Prunes `model` in place (all or nothing). ids: [num_samples, seq_len] row-major calibration
// tokens; forward: batch and seed of the walk (no rows are sampled); progress(done, total) per layer.
StructuredPruneOutcome structuredPrune(Model& model, const StructuredPruneOptions& options,
                                       const std::vector<int32_t>& ids, int64_t num_samples, int64_t seq_len,
                                       const LayerwiseOptions& forward,
                                       const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace slmc
