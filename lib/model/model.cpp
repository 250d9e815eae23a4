#include "lib/model/model.h"

#include "lib/support/error.h"

namespace slmc {

void TensorMap::set(const std::string& name, Tensor tensor) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(tensor);
    return;
  }
  index_.emplace(name, entries_.size());
  entries_.emplace_back(name, std::move(tensor));
}

const Tensor* TensorMap::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Tensor& TensorMap::at(const std::string& name) const {
  const Tensor* t = find(name);
  require(t != nullptr, "missing tensor '" + name + "' (the checkpoint is incomplete or not of this architecture)");
  return *t;
}

bool TensorMap::erase(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  return true;
}

std::string SparsityInfo::pattern() const {
  return isNM() ? std::to_string(n) + ":" + std::to_string(m) : std::string("unstructured");
}

void Model::setQuantized(const std::string& name, QuantizedTensor q) {
  require(tensors.contains(name), "internal: quantizing unknown tensor '" + name + "'");
  q.validate(name);
  tensors.set(name, q.dequantize());
  quantized[name] = std::make_shared<const QuantizedTensor>(std::move(q));
}

const Tensor& Model::outputWeight() const {
  return tensors.at(config.tie_word_embeddings ? names::kEmbedTokens : names::kLmHead);
}

std::string names::layer(int64_t i, const std::string& rest) {
  return "model.layers." + std::to_string(i) + "." + rest;
}

std::vector<TensorSpec> expectedTensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size, kv = c.kvDim(), q = c.num_heads * c.head_dim, f = c.intermediate_size;
  const bool layer_norm = c.norm == NormType::LayerNorm;
  std::vector<TensorSpec> specs;
  const auto add = [&](std::string name, Shape shape) { specs.push_back({std::move(name), std::move(shape)}); };
  const auto addNorm = [&](const std::string& prefix) {
    add(prefix + ".weight", {h});
    if (layer_norm) add(prefix + ".bias", {h});
  };
  const auto addLinear = [&](const std::string& prefix, int64_t out, int64_t in, bool bias) {
    add(prefix + ".weight", {out, in});
    if (bias) add(prefix + ".bias", {out});
  };
  add(names::kEmbedTokens, {c.vocab_size, h});
  if (c.positions == PositionType::Learned) add(names::kEmbedPositions, {c.max_position_embeddings, h});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    addNorm(names::layer(i, "input_layernorm"));
    addLinear(names::layer(i, "self_attn.q_proj"), q, h, c.qkv_bias);
    addLinear(names::layer(i, "self_attn.k_proj"), kv, h, c.qkv_bias);
    addLinear(names::layer(i, "self_attn.v_proj"), kv, h, c.qkv_bias);
    addLinear(names::layer(i, "self_attn.o_proj"), h, q, c.o_bias);
    addNorm(names::layer(i, "post_attention_layernorm"));
    if (c.gatedMlp()) addLinear(names::layer(i, "mlp.gate_proj"), f, h, c.mlp_bias);
    addLinear(names::layer(i, "mlp.up_proj"), f, h, c.mlp_bias);
    addLinear(names::layer(i, "mlp.down_proj"), h, f, c.mlp_bias);
  }
  addNorm(names::kFinalNorm);
  if (!c.tie_word_embeddings) add(names::kLmHead, {c.vocab_size, h});
  return specs;
}

Model inCanonicalOrder(const Model& model) {
  Model ordered = model;  // every field but the tensors, whose order changes
  ordered.tensors = TensorMap();
  for (const auto& spec : expectedTensors(model.config))
    if (const Tensor* t = model.tensors.find(spec.name)) ordered.tensors.set(spec.name, *t);
  for (const auto& [name, t] : model.tensors)
    if (!ordered.tensors.contains(name)) ordered.tensors.set(name, t);
  return ordered;
}

void validateModel(const Model& model) {
  const std::string where = model.source.empty() ? std::string("model") : model.source;
  model.config.validate();
  const auto specs = expectedTensors(model.config);
  for (const auto& spec : specs) {
    const Tensor* t = model.tensors.find(spec.name);
    require(t != nullptr, where + ": missing tensor '" + spec.name +
                              "' (the checkpoint does not match its config.json; re-export it)");
    require(t->shape() == spec.shape, where + ": tensor '" + spec.name + "' has shape " + shapeString(t->shape()) +
                                          " but the config implies " + shapeString(spec.shape) +
                                          " (config.json and weights disagree)");
    require(traits(t->dtype()).is_float,
            where + ": tensor '" + spec.name + "' has non-float dtype " + dtypeName(t->dtype()));
    require(t->allFinite(), where + ": tensor '" + spec.name +
                                "' contains NaN or Inf values (the checkpoint is corrupt or diverged; use another one)");
  }
  if (model.tensors.size() != specs.size()) {
    for (const auto& [name, tensor] : model.tensors) {
      bool known = false;
      for (const auto& spec : specs) known = known || spec.name == name;
      require(known, where + ": unexpected tensor '" + name + "' for architecture " + model.config.architecture +
                         " (the checkpoint has weights slmc would ignore)");
    }
  }
}

}  // namespace slmc
