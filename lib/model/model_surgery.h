// Structural edits that physically shrink a model: keep a subset of attention heads, of MLP
// channels, or of layers, and update the config to match, so the result is a smaller model of
// the same architecture that config.json describes exactly. Pure tensor surgery: which parts to
// keep is decided elsewhere (passes/prune/structured_prune.h).
//
// Every edit builds the new model aside and replaces `model` only once it passes validateModel,
// so a refused or failing edit leaves the model as it was. Weights keep their dtype and bytes
// (rows and columns are copied, never converted).
//
// Hugging Face configs describe every layer with the same numbers, so each edit keeps the same
// count in every layer; which heads or channels may differ per layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

// The attention heads one layer keeps. Query head h reads KV group h / (num_heads / num_kv_heads).
// Every kept query head must belong to a kept group and every kept group keeps the same number of
// query heads, so the result is again a grouped-query layout (kept groups in increasing order,
// each followed by its kept query heads in increasing order).
struct LayerHeads {
  std::vector<int64_t> kv_heads;  // KV groups kept (indices into the current num_kv_heads)
  std::vector<int64_t> q_heads;   // query heads kept (indices into the current num_heads)
};

// Keeps, in layer i, the heads kept_per_layer[i] names (one entry per layer): rows of q_proj,
// k_proj, v_proj (and their biases) and columns of o_proj. num_heads and num_kv_heads shrink;
// head_dim and hidden_size stay (Llama-family configs state head_dim). GPT-2 is refused: its
// config derives head_dim from n_embd / n_head, so fewer heads cannot be written back.
void keepAttentionHeads(Model& model, const std::vector<LayerHeads>& kept_per_layer);

// Keeps, in layer i, the MLP channels kept_per_layer[i] names (same count in every layer): rows of
// gate_proj and up_proj (and their biases), columns of down_proj. intermediate_size shrinks.
void keepFfnChannels(Model& model, const std::vector<std::vector<int64_t>>& kept_per_layer);

// Drops the listed layers and renumbers the rest (model.layers.<i>.* stays contiguous);
// num_layers shrinks. Refuses removing every layer, out-of-range and repeated indices.
void removeLayers(Model& model, const std::vector<int64_t>& layers);

// Throws Error unless the model is plain float weights: no quantized weights, activation
// quantizers or recorded sparsity, which surgery could not carry over (their entries are keyed by
// tensor names and shapes that change). `what` names the caller in the message.
void requireFloatDenseModel(const Model& model, const std::string& what);

}  // namespace slmc
