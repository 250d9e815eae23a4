#include <map>

#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

TrainableStudent makeTrainableStudent(const Model& model) {
  require(model.quantized.empty(),
          "the student holds quantized weights (" + std::to_string(model.quantized.size()) +
              " tensors): distill a float model, then quantize it (training through the grid is not supported yet)");
  TrainableStudent s;
  s.config = model.config;
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, tensor] : model.tensors) {
    at::Tensor leaf = decoder::asTorch(tensor).to(at::kFloat).clone().requires_grad_(true);
    by_name.emplace(name, leaf);
    s.parameters.emplace_back(name, leaf);
    if (const auto it = model.sparsity.find(name); it != model.sparsity.end())
      s.masks.emplace_back(s.parameters.size() - 1, (leaf.detach() != 0).to(at::kFloat));
  }
  const auto get = [&](const std::string& name) { return by_name.at(name); };
  const auto optional = [&](const std::string& name) {
    const auto it = by_name.find(name);
    return it == by_name.end() ? at::Tensor() : it->second;
  };
  const auto norm = [&](const std::string& prefix) {
    return decoder::Norm{get(prefix + ".weight"), optional(prefix + ".bias")};
  };
  decoder::Weights& w = s.weights;
  const ModelConfig& c = model.config;
  w.embed = get(names::kEmbedTokens);
  if (c.positions == PositionType::Learned) w.positions = get(names::kEmbedPositions);
  w.head = c.tie_word_embeddings ? w.embed : get(names::kLmHead);
  w.final_norm = norm(names::kFinalNorm);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const auto linear = [&](const std::string& rest) {
      return decoder::Linear{get(names::layer(i, rest + ".weight")), optional(names::layer(i, rest + ".bias")),
                             std::nullopt};
    };
    decoder::Layer L;
    L.input_norm = norm(names::layer(i, "input_layernorm"));
    L.post_norm = norm(names::layer(i, "post_attention_layernorm"));
    L.q = linear("self_attn.q_proj");
    L.k = linear("self_attn.k_proj");
    L.v = linear("self_attn.v_proj");
    L.o = linear("self_attn.o_proj");
    if (c.gatedMlp()) L.gate = linear("mlp.gate_proj");
    L.up = linear("mlp.up_proj");
    L.down = linear("mlp.down_proj");
    w.layers.push_back(std::move(L));
  }
  return s;
}

void copyStudentInto(const TrainableStudent& student, Model& model) {
  for (const auto& [name, leaf] : student.parameters) {
    const at::Tensor values = leaf.detach().contiguous();
    std::vector<float> data(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    model.tensors.set(name, Tensor::fromFloats(Shape(values.sizes().begin(), values.sizes().end()), std::move(data)));
  }
}

at::Tensor decoderLogits(const ModelConfig& config, const decoder::Weights& weights,
                         const std::vector<int32_t>& ids, int64_t batch, int64_t seq) {
  return at::matmul(decoder::forwardHidden(config, weights, ids, batch, seq), weights.head.t());
}

}  // namespace slmc::distill
