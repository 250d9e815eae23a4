#include <map>

#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

namespace {

// The smallest magnitude a trained scale keeps: the smallest normal float16, as the grids use
// (quantized_tensor.cpp), so that a scale never reaches 0 and stays storable.
constexpr double kMinScale = 6.103515625e-05;

FakeQuantWeight addFakeQuant(TrainableStudent& s, const std::string& name, const at::Tensor& latent,
                             const std::shared_ptr<const QuantizedTensor>& q) {
  FakeQuantWeight f;
  f.source = q;
  f.latent = s.parameters.size() - 1;
  const int64_t groups = q->groups();
  at::Tensor scale = at::from_blob(const_cast<float*>(q->scales.data()), {q->rows, groups}, at::kFloat).clone();
  std::vector<float> zeros(q->zeros.begin(), q->zeros.end());
  f.zero = at::from_blob(zeros.data(), {q->rows, groups}, at::kFloat).clone();
  f.sign = scale.sign();
  s.parameters.emplace_back(name + kQatScaleSuffix, scale.requires_grad_(true));
  s.decayed.push_back(false);
  f.scale = s.parameters.size() - 1;
  require(latent.size(0) == q->rows && latent.size(1) == q->cols,
          "quantized tensor '" + name + "' does not match its weight's shape");
  return f;
}

// Ŵ of FakeQuantWeight (distill_torch.h), recorded by autograd.
at::Tensor fakeQuantized(const FakeQuantWeight& f, const at::Tensor& latent, const at::Tensor& scale) {
  const QuantizedTensor& q = *f.source;
  const int64_t groups = q.groups(), group = q.cols / groups;
  const at::Tensor s = scale + (scale.to(at::kHalf).to(at::kFloat) - scale).detach();  // float16, straight through
  const at::Tensor s3 = s.unsqueeze(-1), z3 = f.zero.unsqueeze(-1);
  const at::Tensor x = latent.view({q.rows, groups, group}) / s3 + z3;
  // Round half up, as quantizeValue does, with the identity's gradient.
  const at::Tensor codes = (x + (at::floor(x + 0.5) - x).detach()).clamp(0, maxCode(q.scheme.bits()));
  return ((codes - z3) * s3).view({q.rows, q.cols});
}

QuantizedTensor rederived(const FakeQuantWeight& f, const at::Tensor& latent, const at::Tensor& scale) {
  QuantizedTensor q = *f.source;
  const at::Tensor w = latent.detach().contiguous(), s = scale.detach().to(at::kHalf).to(at::kFloat).contiguous();
  const float* wp = w.data_ptr<float>();
  const float* sp = s.data_ptr<float>();
  q.scales.assign(sp, sp + s.numel());
  const int64_t groups = q.groups(), group = q.cols / groups;
  const int bits = q.scheme.bits();
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      const size_t i = static_cast<size_t>(r * q.cols + c);
      q.codes[i] = quantizeValue(wp[i], q.grid(r, c / group), bits);
    }
  return q;
}

}  // namespace

TrainableStudent makeTrainableStudent(const Model& model, bool through_grid) {
  require(through_grid || model.quantized.empty(),
          "the student holds quantized weights (" + std::to_string(model.quantized.size()) +
              " tensors): train it through its grid (qat=true, --qat) or distill the float model before quantizing");
  if (through_grid) {
    require(!model.quantized.empty(), "training through the grid (qat) needs a quantized student: put a quantize pass "
                                      "before distill, or give a quantized --student");
    if (!model.activation_quant.empty())
      throw Error("the student quantizes activations (" + model.activation_quant.begin()->first +
                  "): training through the grid covers weight-only quantization (quantize activations after distill)");
  }
  TrainableStudent s;
  s.config = model.config;
  for (const auto& [name, tensor] : model.tensors) {
    at::Tensor leaf = decoder::asTorch(tensor).to(at::kFloat).clone().requires_grad_(true);
    s.parameters.emplace_back(name, leaf);
    s.decayed.push_back(leaf.dim() >= 2);
    const size_t index = s.parameters.size() - 1;
    if (const auto it = model.sparsity.find(name); it != model.sparsity.end())
      s.masks.emplace_back(index, (leaf.detach() != 0).to(at::kFloat));
    if (const auto q = model.quantized.find(name); q != model.quantized.end())
      s.fake_quant.push_back(addFakeQuant(s, name, leaf, q->second));
  }
  return s;
}

TrainableStudent viewStudent(const Model& model) {
  require(model.quantized.empty(), "the model holds quantized weights (" + std::to_string(model.quantized.size()) +
                                       " tensors): its weight gradients need the float model");
  TrainableStudent s;
  s.config = model.config;
  for (const auto& [name, tensor] : model.tensors) {
    s.parameters.emplace_back(name, decoder::asTorch(tensor).to(at::kFloat));
    s.decayed.push_back(tensor.shape().size() >= 2);
  }
  return s;
}

decoder::Weights TrainableStudent::bind() const {
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, leaf] : parameters) by_name.emplace(name, leaf);
  for (const FakeQuantWeight& f : fake_quant)
    by_name[parameters[f.latent].first] = fakeQuantized(f, parameters[f.latent].second, parameters[f.scale].second);
  const auto get = [&](const std::string& name) { return by_name.at(name); };
  const auto optional = [&](const std::string& name) {
    const auto it = by_name.find(name);
    return it == by_name.end() ? at::Tensor() : it->second;
  };
  const auto norm = [&](const std::string& prefix) {
    return decoder::Norm{get(prefix + ".weight"), optional(prefix + ".bias")};
  };
  decoder::Weights w;
  const ModelConfig& c = config;
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
  return w;
}

void TrainableStudent::project() {
  at::NoGradGuard no_grad;
  for (const auto& [index, mask] : masks) parameters[index].second.mul_(mask);
  for (const FakeQuantWeight& f : fake_quant) {
    at::Tensor& scale = parameters[f.scale].second;
    scale.copy_(f.sign * scale.abs().clamp_min(kMinScale));
  }
}

void copyStudentInto(const TrainableStudent& student, Model& model) {
  std::vector<bool> scale(student.parameters.size(), false), latent(student.parameters.size(), false);
  for (const FakeQuantWeight& f : student.fake_quant) {
    scale[f.scale] = latent[f.latent] = true;
    model.setQuantized(student.parameters[f.latent].first,
                       rederived(f, student.parameters[f.latent].second, student.parameters[f.scale].second));
  }
  for (size_t i = 0; i < student.parameters.size(); ++i) {
    if (scale[i] || latent[i]) continue;
    const auto& [name, leaf] = student.parameters[i];
    const at::Tensor values = leaf.detach().contiguous();
    std::vector<float> data(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    model.tensors.set(name, Tensor::fromFloats(Shape(values.sizes().begin(), values.sizes().end()), std::move(data)));
  }
}

at::Tensor decoderLogits(const ModelConfig& config, const decoder::Weights& weights,
                         const std::vector<int32_t>& ids, int64_t batch, int64_t seq,
                         std::vector<at::Tensor>* layer_outputs, bool recompute) {
  static const decoder::LayerCall kRecompute = recomputedLayer;
  return at::matmul(decoder::forwardHidden(config, weights, ids, batch, seq, layer_outputs, recompute ? &kRecompute : nullptr),
                    weights.head.t());
}

}  // namespace slmc::distill
