// Activation checkpointing (DistillOptions::recompute): a layer runs forward without recording
// its graph, keeping only its input; the backward runs it again with the graph and
// differentiates that. A LibTorch custom autograd Function, so the rest of the graph (the
// fake-quantized weights' own graph included) is untouched: what flows out are the gradients of
// the layer's input and of the weight tensors it read.
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "lib/reference/bf16_autocast_torch.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Every tensor slot of a layer, in one fixed order.
std::vector<at::Tensor*> slots(decoder::Layer& L) {
  std::vector<at::Tensor*> out{&L.input_norm.weight, &L.input_norm.bias, &L.post_norm.weight, &L.post_norm.bias};
  for (decoder::Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
    out.push_back(&l->weight);
    out.push_back(&l->bias);
  }
  return out;
}

// What the backward needs besides tensors: the layer's structure (its slots emptied: the tensors
// themselves are saved variables) and its positions.
struct LayerShape : torch::CustomClassHolder {
  ModelConfig config;
  decoder::Layer layer;
  std::vector<bool> defined;  // per slot
  decoder::Rope rope;
  bool bf16_autocast = false;  // the forward ran under CPU autocast: the recompute must too
};

struct RecomputedLayer : public torch::autograd::Function<RecomputedLayer> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList weights,
                            const c10::intrusive_ptr<LayerShape>& shape, const at::Tensor& causal_bias) {
    variable_list saved{x};
    saved.insert(saved.end(), weights.begin(), weights.end());
    saved.push_back(causal_bias);
    ctx->save_for_backward(saved);
    ctx->saved_data["shape"] = c10::IValue::make_capsule(shape);
    decoder::Layer L = shape->layer;
    size_t next = 0;
    const std::vector<at::Tensor*> s = slots(L);
    for (size_t i = 0; i < s.size(); ++i)
      if (shape->defined[i]) *s[i] = weights[next++];
    // (Grad mode is off here: decoderLayer updates its input in place, so it gets a copy.)
    return decoder::decoderLayer(shape->config, L, x.clone(), shape->rope, causal_bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const auto shape = c10::static_intrusive_pointer_cast<LayerShape>(ctx->saved_data["shape"].toCapsule());
    const size_t n = saved.size() - 2;  // weights between x and the bias
    at::Tensor x = saved[0].detach().requires_grad_(saved[0].requires_grad());
    std::vector<at::Tensor> weights;
    for (size_t i = 0; i < n; ++i) weights.push_back(saved[1 + i].detach().requires_grad_(saved[1 + i].requires_grad()));
    decoder::Layer L = shape->layer;
    size_t next = 0;
    const std::vector<at::Tensor*> s = slots(L);
    for (size_t i = 0; i < s.size(); ++i)
      if (shape->defined[i]) *s[i] = weights[next++];
    at::Tensor y;
    {
      at::AutoGradMode record(true);
      // The engine runs this outside the forward's autocast scope: the recompute restores it,
      // so that it repeats the forward's bfloat16 products. The scope's end clears autocast's
      // cache of bf16 weight copies (keyed by address): these leaves die with this call, and a
      // later tensor at the same address must not find their copies.
      const BfloatAutocast autocast(shape->bf16_autocast);
      y = decoder::decoderLayer(shape->config, L, x, shape->rope, saved.back());
    }
    variable_list wrt;
    std::vector<size_t> where;  // output position of each wrt entry
    if (x.requires_grad()) wrt.push_back(x), where.push_back(0);
    for (size_t i = 0; i < n; ++i)
      if (weights[i].requires_grad()) wrt.push_back(weights[i]), where.push_back(1 + i);
    variable_list out(n + 3);  // x, the weights, then none for the shape and the bias
    if (wrt.empty()) return out;
    const variable_list grads = torch::autograd::grad({y}, wrt, {grad_outputs[0]}, false, false, true);
    for (size_t i = 0; i < wrt.size(); ++i) out[where[i]] = grads[i];
    return out;
  }
};

}  // namespace

at::Tensor recomputedLayer(const ModelConfig& c, const decoder::Layer& L, const at::Tensor& x,
                           const decoder::Rope& rope, const at::Tensor& causal_bias) {
  auto shape = c10::make_intrusive<LayerShape>();
  shape->config = c;
  shape->layer = L;
  shape->rope = rope;
  shape->bf16_autocast = at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
  std::vector<at::Tensor> weights;
  for (at::Tensor* slot : slots(shape->layer)) {
    shape->defined.push_back(slot->defined());
    if (slot->defined()) weights.push_back(*slot);
    *slot = at::Tensor();
  }
  return RecomputedLayer::apply(x, at::TensorList(weights), shape, causal_bias);
}

}  // namespace slmc::distill
