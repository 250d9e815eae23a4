#include "lib/model/model_surgery.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace {

// A sorted copy of `indices` after checking each is in [0, bound) and appears once; `what` names
// the index in the message ("layer 3 query head").
std::vector<int64_t> sortedUnique(const std::vector<int64_t>& indices, int64_t bound, const std::string& what) {
  std::vector<int64_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t v : sorted)
    require(v >= 0 && v < bound, what + " " + std::to_string(v) + " is out of range (there are " +
                                     std::to_string(bound) + ", numbered from 0)");
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) throw Error(what + " " + std::to_string(*repeated) + " is listed twice (list each once)");
  return sorted;
}

// Maximal runs [begin, begin + length) of consecutive values in a sorted index list, so that
// whole heads (head_dim consecutive rows or columns) are copied with one memcpy.
std::vector<std::pair<int64_t, int64_t>> runsOf(const std::vector<int64_t>& sorted) {
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t v : sorted) {
    if (!runs.empty() && runs.back().first + runs.back().second == v)
      ++runs.back().second;
    else
      runs.emplace_back(v, 1);
  }
  return runs;
}

// Rows `rows` (sorted) of dim 0, bytes copied unchanged: works for weights and biases of any dtype.
Tensor gatherRows(const Tensor& t, const std::vector<int64_t>& rows) {
  const size_t row_bytes = t.nbytes() / static_cast<size_t>(t.dim(0));
  Shape shape = t.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  std::vector<std::byte> out(rows.size() * row_bytes);
  std::byte* dst = out.data();
  for (const auto& [begin, length] : runsOf(rows)) {
    const size_t n = static_cast<size_t>(length) * row_bytes;
    std::memcpy(dst, t.bytes() + static_cast<size_t>(begin) * row_bytes, n);
    dst += n;
  }
  return Tensor::copyOf(t.dtype(), shape, out.data());
}

// Columns `cols` (sorted) of a 2-D tensor, bytes copied unchanged.
Tensor gatherColumns(const Tensor& t, const std::vector<int64_t>& cols) {
  const int64_t rows = t.dim(0), in_cols = t.dim(1);
  const size_t e = dtypeSize(t.dtype());
  const auto runs = runsOf(cols);
  std::vector<std::byte> out(static_cast<size_t>(rows) * cols.size() * e);
  std::byte* dst = out.data();
  for (int64_t r = 0; r < rows; ++r) {
    const std::byte* row = t.bytes() + static_cast<size_t>(r * in_cols) * e;
    for (const auto& [begin, length] : runs) {
      const size_t n = static_cast<size_t>(length) * e;
      std::memcpy(dst, row + static_cast<size_t>(begin) * e, n);
      dst += n;
    }
  }
  return Tensor::copyOf(t.dtype(), {rows, static_cast<int64_t>(cols.size())}, out.data());
}

// Indices of the rows (or columns) of the listed heads: head h spans [h·head_dim, (h+1)·head_dim).
std::vector<int64_t> headRows(const std::vector<int64_t>& heads, int64_t head_dim) {
  std::vector<int64_t> rows;
  rows.reserve(heads.size() * static_cast<size_t>(head_dim));
  for (int64_t h : heads)
    for (int64_t d = 0; d < head_dim; ++d) rows.push_back(h * head_dim + d);
  return rows;
}

// Surgery slices by the config's sizes: the tensors must have them (memcpy would read past a
// smaller tensor). Finite values are left to validateModel on the result.
void requireConfigShapes(const Model& model, const char* what) {
  for (const TensorSpec& spec : expectedTensors(model.config)) {
    const Tensor* t = model.tensors.find(spec.name);
    require(t != nullptr && t->shape() == spec.shape && traits(t->dtype()).is_float,
            std::string(what) + ": tensor '" + spec.name + "' is missing, not float or not of shape " +
                shapeString(spec.shape) + " as the config implies (the model does not match its config; reload it)");
  }
}

void requireOneEntryPerLayer(size_t entries, const ModelConfig& c, const char* what) {
  require(static_cast<int64_t>(entries) == c.num_layers,
          std::string(what) + ": got " + std::to_string(entries) + " per-layer entries for a model of " +
              std::to_string(c.num_layers) + " layers (give one per layer)");
}

void setRows(Model& out, const Model& in, const std::string& name, const std::vector<int64_t>& rows) {
  out.tensors.set(name, gatherRows(in.tensors.at(name), rows));
}

// Replaces `model` by `edited` in canonical order once it is a valid model: nothing changes when
// the check fails.
void commit(Model& model, const Model& edited) {
  Model ordered = inCanonicalOrder(edited);
  validateModel(ordered);
  model = std::move(ordered);
}

}  // namespace

void requireFloatDenseModel(const Model& model, const std::string& what) {
  std::string found;
  if (!model.quantized.empty())
    found = "quantized weights ('" + model.quantized.begin()->first + "', ...)";
  else if (!model.activation_quant.empty())
    found = "activation quantizers ('" + model.activation_quant.begin()->first + "', ...)";
  else if (!model.sparsity.empty())
    found = "sparsity from unstructured pruning ('" + model.sparsity.begin()->first + "', ...)";
  require(found.empty(), what + " needs float, dense weights but the model has " + found +
                             ": structured pruning runs on float weights before quantization and unstructured "
                             "pruning: put it first in the pipeline");
}

void keepAttentionHeads(Model& model, const std::vector<LayerHeads>& kept_per_layer) {
  const ModelConfig& c = model.config;
  require(c.family != ArchFamily::GPT2,
          "attention heads cannot be removed from a GPT-2 model: its config.json derives the head size from "
          "n_embd / n_head, so fewer heads would change head_dim (prune the MLP (ffn) or whole layers instead)");
  requireFloatDenseModel(model, "attention head pruning");
  requireOneEntryPerLayer(kept_per_layer.size(), c, "attention head pruning");
  requireConfigShapes(model, "attention head pruning");
  const int64_t rep = c.num_heads / c.num_kv_heads, hd = c.head_dim;
  const size_t kv_count = kept_per_layer.front().kv_heads.size(), q_count = kept_per_layer.front().q_heads.size();
  require(kv_count >= 1 && q_count >= 1,
          "attention head pruning keeps no heads in layer 0 (keep at least one KV group and one query head per layer)");
  require(q_count % kv_count == 0, "attention head pruning keeps " + std::to_string(q_count) + " query heads in " +
                                       std::to_string(kv_count) +
                                       " KV groups: every group needs the same number of query heads");
  const int64_t per_group = static_cast<int64_t>(q_count / kv_count);

  Model edited = model;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerHeads& kept = kept_per_layer[static_cast<size_t>(i)];
    const std::string where = "layer " + std::to_string(i);
    const std::vector<int64_t> kv = sortedUnique(kept.kv_heads, c.num_kv_heads, where + " KV group");
    const std::vector<int64_t> q = sortedUnique(kept.q_heads, c.num_heads, where + " query head");
    require(kv.size() == kv_count && q.size() == q_count,
            where + " keeps " + std::to_string(kv.size()) + " KV groups and " + std::to_string(q.size()) +
                " query heads but layer 0 keeps " + std::to_string(kv_count) + " and " + std::to_string(q_count) +
                " (a Hugging Face config gives every layer the same head counts; keep the same numbers in every "
                "layer)");
    for (int64_t h : q)
      require(std::binary_search(kv.begin(), kv.end(), h / rep),
              where + ": query head " + std::to_string(h) + " reads KV group " + std::to_string(h / rep) +
                  ", which is not kept (keep its group or drop the head)");
    for (int64_t g : kv) {
      const auto in_group = std::count_if(q.begin(), q.end(), [&](int64_t h) { return h / rep == g; });
      require(in_group == per_group, where + ": KV group " + std::to_string(g) + " keeps " + std::to_string(in_group) +
                                         " query heads but every kept group must keep " + std::to_string(per_group) +
                                         " (a grouped-query layout shares each group among equally many heads)");
    }
    // Sorted query heads come grouped by their (sorted) KV group, so new head j reads new group
    // j / per_group: the layout the decoder assumes.
    const std::vector<int64_t> q_rows = headRows(q, hd), kv_rows = headRows(kv, hd);
    const auto attn = [&](const char* rest) { return names::layer(i, std::string("self_attn.") + rest); };
    setRows(edited, model, attn("q_proj.weight"), q_rows);
    setRows(edited, model, attn("k_proj.weight"), kv_rows);
    setRows(edited, model, attn("v_proj.weight"), kv_rows);
    if (c.qkv_bias) {
      setRows(edited, model, attn("q_proj.bias"), q_rows);
      setRows(edited, model, attn("k_proj.bias"), kv_rows);
      setRows(edited, model, attn("v_proj.bias"), kv_rows);
    }
    // o_proj's bias is added once to the sum over heads: it stays whole.
    edited.tensors.set(attn("o_proj.weight"), gatherColumns(model.tensors.at(attn("o_proj.weight")), q_rows));
  }
  edited.config.num_heads = static_cast<int64_t>(q_count);
  edited.config.num_kv_heads = static_cast<int64_t>(kv_count);
  commit(model, edited);
}

void keepFfnChannels(Model& model, const std::vector<std::vector<int64_t>>& kept_per_layer) {
  const ModelConfig& c = model.config;
  requireFloatDenseModel(model, "MLP channel pruning");
  requireOneEntryPerLayer(kept_per_layer.size(), c, "MLP channel pruning");
  requireConfigShapes(model, "MLP channel pruning");
  const size_t count = kept_per_layer.front().size();
  require(count >= 1, "MLP channel pruning keeps no channels in layer 0 (keep at least one per layer)");

  Model edited = model;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string where = "layer " + std::to_string(i);
    const std::vector<int64_t> kept =
        sortedUnique(kept_per_layer[static_cast<size_t>(i)], c.intermediate_size, where + " MLP channel");
    require(kept.size() == count, where + " keeps " + std::to_string(kept.size()) + " MLP channels but layer 0 keeps " +
                                      std::to_string(count) +
                                      " (a Hugging Face config gives every layer the same intermediate_size; keep "
                                      "the same number in every layer)");
    const auto mlp = [&](const char* rest) { return names::layer(i, std::string("mlp.") + rest); };
    if (c.gatedMlp()) setRows(edited, model, mlp("gate_proj.weight"), kept);
    setRows(edited, model, mlp("up_proj.weight"), kept);
    if (c.mlp_bias) {
      if (c.gatedMlp()) setRows(edited, model, mlp("gate_proj.bias"), kept);
      setRows(edited, model, mlp("up_proj.bias"), kept);
    }
    // down_proj's bias is added once to the sum over channels: it stays whole.
    edited.tensors.set(mlp("down_proj.weight"), gatherColumns(model.tensors.at(mlp("down_proj.weight")), kept));
  }
  edited.config.intermediate_size = static_cast<int64_t>(count);
  commit(model, edited);
}

void removeLayers(Model& model, const std::vector<int64_t>& layers) {
  const ModelConfig& c = model.config;
  requireFloatDenseModel(model, "layer removal");
  const std::vector<int64_t> removed = sortedUnique(layers, c.num_layers, "layer");
  require(static_cast<int64_t>(removed.size()) < c.num_layers,
          "removing all " + std::to_string(c.num_layers) + " layers leaves no model (remove at most " +
              std::to_string(c.num_layers - 1) + ")");
  if (removed.empty()) return;
  requireConfigShapes(model, "layer removal");

  // Old index → new index, -1 for a removed layer.
  std::vector<int64_t> renumbered(static_cast<size_t>(c.num_layers));
  for (int64_t i = 0, next = 0; i < c.num_layers; ++i)
    renumbered[static_cast<size_t>(i)] = std::binary_search(removed.begin(), removed.end(), i) ? -1 : next++;

  Model edited;
  edited.config = c;
  edited.config.num_layers = c.num_layers - static_cast<int64_t>(removed.size());
  edited.source = model.source;
  const std::string prefix = "model.layers.";
  for (const auto& [name, tensor] : model.tensors) {
    if (!startsWith(name, prefix)) {
      edited.tensors.set(name, tensor);
      continue;
    }
    const size_t dot = name.find('.', prefix.size());
    const std::string index = name.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
    // requireConfigShapes saw every expected name, so a layer tensor here has a numeric index
    // below num_layers; anything else is left for validateModel to name.
    const bool numeric = !index.empty() && std::all_of(index.begin(), index.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; }) && index.size() < 10;
    const int64_t old_index = numeric ? std::stoll(index) : -1;
    if (!numeric || old_index >= c.num_layers || dot == std::string::npos) {
      edited.tensors.set(name, tensor);
      continue;
    }
    const int64_t new_index = renumbered[static_cast<size_t>(old_index)];
    if (new_index >= 0) edited.tensors.set(names::layer(new_index, name.substr(dot + 1)), tensor);
  }
  commit(model, edited);
}

}  // namespace slmc
