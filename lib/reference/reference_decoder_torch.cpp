#include "lib/reference/reference_decoder_torch.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include "lib/reference/activation_stats.h"
#include "lib/reference/attention_blocks.h"
#include "lib/support/error.h"

namespace slmc {

namespace decoder {

at::Tensor asTorch(const Tensor& t) {
  std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::F32 && reinterpret_cast<uintptr_t>(t.bytes()) % alignof(float) == 0)
    // The weights are never written: viewing the (possibly memory-mapped) bytes is safe. The
    // deleter holds a copy of `t`, which keeps the mapping alive as long as the view.
    return at::from_blob(const_cast<std::byte*>(t.bytes()), shape, [keep = t](void*) mutable { keep = Tensor(); },
                         at::TensorOptions().dtype(at::kFloat));
  std::vector<float> values = t.toFloats();
  return at::from_blob(values.data(), shape, at::kFloat).clone();
}

void validateActivationQuant(const ActivationQuant& q, const std::string& linear) {
  require(q.bits >= ActivationQuant::kMinBits && q.bits <= ActivationQuant::kMaxSimulatedBits,
          "activation quantizer of '" + linear + "' has " + std::to_string(q.bits) + " bits (use " +
              std::to_string(ActivationQuant::kMinBits) + " to " + std::to_string(ActivationQuant::kMaxSimulatedBits) +
              ", e.g. 8 for W8A8)");
  require(q.dynamic || (std::isfinite(q.scale) && q.scale > 0),
          "activation quantizer of '" + linear + "' is static with scale " + std::to_string(q.scale) +
              " (calibrate a positive scale or make it dynamic)");
}

void validateActivationQuantNames(const Model& model) {
  if (model.activation_quant.empty()) return;
  std::set<std::string> linears;
  for (int64_t i = 0; i < model.config.num_layers; ++i)
    for (const SiteSpec& s : layerSites(model.config, i)) linears.insert(s.linears.begin(), s.linears.end());
  for (const auto& [name, q] : model.activation_quant) {
    require(linears.count(name) != 0, "activation quantizer set for '" + name +
                                          "', which is not a linear weight of a decoder layer (name a "
                                          "model.layers.<i>.*_proj.weight)");
    validateActivationQuant(q, name);
  }
}

at::Tensor fakeQuantize(const at::Tensor& x, const ActivationQuant& q) {
  const double qmax = std::ldexp(1.0, q.bits - 1) - 1, qmin = -std::ldexp(1.0, q.bits - 1);
  if (!q.dynamic) return at::clamp(at::round(x / static_cast<double>(q.scale)), qmin, qmax) * static_cast<double>(q.scale);
  // Per row: the largest |x| maps to ±qmax exactly. A zero row gets scale 0; dividing by 1
  // instead keeps it zero (0 · 0) without NaN.
  const at::Tensor scale = x.abs().amax(-1, /*keepdim=*/true) / qmax;
  const at::Tensor divisor = at::where(scale > 0, scale, at::ones_like(scale));
  return at::clamp(at::round(x / divisor), qmin, qmax) * scale;
}

Norm loadNorm(const Model& model, const std::string& prefix) {
  const TensorMap& T = model.tensors;
  const std::string bias = prefix + ".bias";
  return Norm{asTorch(T.at(prefix + ".weight")), T.contains(bias) ? asTorch(T.at(bias)) : at::Tensor()};
}

Layer loadLayer(const Model& model, int64_t i) {
  const TensorMap& T = model.tensors;
  const auto linear = [&](const std::string& name) {
    const std::string weight = names::layer(i, name + ".weight"), bias = names::layer(i, name + ".bias");
    Linear l{asTorch(T.at(weight)), T.contains(bias) ? asTorch(T.at(bias)) : at::Tensor(), std::nullopt};
    if (const auto it = model.activation_quant.find(weight); it != model.activation_quant.end()) {
      validateActivationQuant(it->second, weight);
      l.input_quant = it->second;
    }
    return l;
  };
  Layer L;
  L.input_norm = loadNorm(model, names::layer(i, "input_layernorm"));
  L.post_norm = loadNorm(model, names::layer(i, "post_attention_layernorm"));
  L.q = linear("self_attn.q_proj");
  L.k = linear("self_attn.k_proj");
  L.v = linear("self_attn.v_proj");
  L.o = linear("self_attn.o_proj");
  if (model.config.gatedMlp()) L.gate = linear("mlp.gate_proj");
  L.up = linear("mlp.up_proj");
  L.down = linear("mlp.down_proj");
  return L;
}

at::Tensor applyNorm(const ModelConfig& c, const Norm& n, const at::Tensor& x) {
  if (c.norm == NormType::LayerNorm) return at::layer_norm(x, {x.size(-1)}, n.weight, n.bias, c.norm_eps);
  const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return x * at::rsqrt(variance + c.norm_eps) * n.weight;
}

Rope Rope::narrow(int64_t begin, int64_t length) const {
  if (!cos.defined()) return {};
  return Rope{cos.narrow(0, begin, length), sin.narrow(0, begin, length)};
}

Rope rotaryTable(const ModelConfig& c, int64_t length, at::ScalarType dtype) {
  if (c.positions != PositionType::Rotary) return {};
  const int64_t hd = c.head_dim;
  const at::Tensor inv_freq = 1.0 / at::pow(c.rope_theta, at::arange(0, hd, 2, at::kFloat) / static_cast<double>(hd));
  const at::Tensor freqs = at::outer(at::arange(length, at::kFloat), inv_freq);  // [S, hd/2]
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return Rope{emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor causalBias(int64_t rows, int64_t past, at::ScalarType dtype) {
  // Additive causal mask, fused with the scaling into one baddbmm per layer: at::matmul on the
  // 4-D view plus separate scale and masked_fill passes took 2.5x longer on stories260K.
  return at::zeros({rows, past + rows}, dtype)
      .masked_fill_(at::ones({rows, past + rows}, at::kBool).triu(past + 1), -std::numeric_limits<float>::infinity());
}

at::Tensor embedTokens(const ModelConfig& c, const at::Tensor& embed, const at::Tensor& positions,
                       const std::vector<int32_t>& ids, int64_t batch, int64_t seq, int64_t past) {
  require(batch > 0 && seq > 0 && static_cast<int64_t>(ids.size()) == batch * seq,
          "internal: " + std::to_string(ids.size()) + " ids for a [" + std::to_string(batch) + ", " +
              std::to_string(seq) + "] batch");
  require(past + seq <= c.max_position_embeddings,
          "sequence length " + std::to_string(past + seq) + " exceeds the model's context of " +
              std::to_string(c.max_position_embeddings) + " tokens (use a smaller --ctx)");
  for (int32_t id : ids)
    require(id >= 0 && id < c.vocab_size, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                              std::to_string(c.vocab_size) + ") (wrong token file for this model?)");
  const at::Tensor tokens = at::from_blob(const_cast<int32_t*>(ids.data()), {batch, seq}, at::kInt).to(at::kLong);
  at::Tensor x = at::embedding(embed, tokens);  // [B, S, H], a fresh tensor: updated in place by the layers
  if (c.positions == PositionType::Learned) x.add_(positions.narrow(0, past, seq));
  return x;
}

const char* siteName(Site site) {
  switch (site) {
    case Site::AttnIn: return "attn_in";
    case Site::AttnOut: return "attn_out";
    case Site::MlpIn: return "mlp_in";
    case Site::MlpOut: return "mlp_out";
  }
  return "?";
}

namespace {
// Hugging Face's rotate-half rotary embedding: pairs (i, i + head_dim/2) rotate together.
at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return x * cos + at::cat({-x2, x1}, -1) * sin;
}

// True when autograd is recording a graph through `t` (training), where in-place updates of
// tensors the backward needs are not allowed.
bool recordsGrad(const at::Tensor& t) { return at::GradMode::is_enabled() && t.requires_grad(); }

at::Tensor geluTanh(const at::Tensor& x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + at::tanh(k * (x + 0.044715 * x.pow(3))));
}
}  // namespace

at::Tensor selfAttention(const ModelConfig& c, const Layer& L, const at::Tensor& x, const Rope& rope,
                         const at::Tensor& causal_bias, int64_t past, KvCache* cache, const SiteHook* hook) {
  const int64_t batch = x.size(0), seq = x.size(1);
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim, rep = nh / nkv;
  at::Tensor q, k, v;
  {
    const at::Tensor h = applyNorm(c, L.input_norm, x);  // freed before the attention itself
    if (hook) (*hook)(Site::AttnIn, h);
    q = L.q(h).view({batch, seq, nh, hd}).transpose(1, 2);
    k = L.k(h).view({batch, seq, nkv, hd}).transpose(1, 2);
    v = L.v(h).view({batch, seq, nkv, hd}).transpose(1, 2);
  }
  if (rope.cos.defined()) {
    q = applyRotary(q, rope.cos, rope.sin);
    k = applyRotary(k, rope.cos, rope.sin);
  }
  // Grouped-query attention without copying k/v per q head: the rep = nh/nkv q heads that
  // share kv head g (heads g*rep .. g*rep+rep-1) are stacked as rep*rows query rows of one
  // matrix product against g's keys, which also halves the number of small products.
  const int64_t keys_total = past + seq;
  const at::Tensor q5 = q.reshape({batch * nkv, rep, seq, hd});
  at::Tensor k3, v3;
  if (cache) {
    cache->k.narrow(2, past, seq).copy_(k);
    cache->v.narrow(2, past, seq).copy_(v);
    // [B, nkv, capacity, hd] narrowed on the position axis still merges B and nkv: a view.
    k3 = cache->k.narrow(2, 0, keys_total).reshape({batch * nkv, keys_total, hd});
    v3 = cache->v.narrow(2, 0, keys_total).reshape({batch * nkv, keys_total, hd});
  } else {
    require(past == 0, "internal: attention at an offset needs a KV cache");
    k3 = k.reshape({batch * nkv, seq, hd});
    v3 = v.reshape({batch * nkv, seq, hd});
  }
  at::Tensor out = at::empty({batch * nkv, rep, seq, hd}, q.options());
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Causal attention in blocks of query rows: a block only attends to the keys up to its last
  // row, which skips most of the masked half of the scores and keeps each block's scores in cache.
  for (const AttentionBlock& b : causalAttentionBlocks(seq)) {
    const int64_t keys = past + b.keys;
    const at::Tensor bias = causal_bias.narrow(0, b.begin, b.rows).narrow(1, 0, keys).repeat({rep, 1});
    const at::Tensor scores =
        at::baddbmm(bias, q5.narrow(2, b.begin, b.rows).reshape({batch * nkv, rep * b.rows, hd}),
                    k3.narrow(1, 0, keys).transpose(1, 2), 1.0, scale);
    out.narrow(2, b.begin, b.rows)
        .copy_(at::bmm(at::softmax(scores, -1), v3.narrow(1, 0, keys)).view({batch * nkv, rep, b.rows, hd}));
  }
  const at::Tensor attn = out.view({batch, nh, seq, hd}).transpose(1, 2).reshape({batch, seq, nh * hd});
  if (hook) (*hook)(Site::AttnOut, attn);
  return L.o(attn);
}

at::Tensor feedForward(const ModelConfig& c, const Layer& L, const at::Tensor& x, const SiteHook* hook) {
  at::Tensor act;
  {
    const at::Tensor m = applyNorm(c, L.post_norm, x);  // freed before the down projection
    if (hook) (*hook)(Site::MlpIn, m);
    if (c.gatedMlp()) {
      act = L.gate(m);
      // In place unless autograd records the graph (distillation trains through this forward):
      // silu's backward needs its input, which an in-place update would overwrite.
      if (recordsGrad(act))
        act = at::silu(act) * L.up(m);
      else
        at::silu_(act).mul_(L.up(m));
    } else {
      act = geluTanh(L.up(m));
    }
  }
  if (hook) (*hook)(Site::MlpOut, act);
  return L.down(act);
}

at::Tensor decoderLayer(const ModelConfig& c, const Layer& L, at::Tensor x, const Rope& rope,
                        const at::Tensor& causal_bias) {
  // In place where a fresh tensor would only raise the peak memory of the layer; out of place
  // when autograd records the graph, since the norms' backward needs the x they read.
  const at::Tensor attn = selfAttention(c, L, x, rope, causal_bias);
  x = recordsGrad(attn) ? x + attn : x.add_(attn);
  const at::Tensor mlp = feedForward(c, L, x);
  return recordsGrad(mlp) ? x + mlp : x.add_(mlp);
}

at::Tensor forwardHidden(const ModelConfig& c, const Weights& w, const std::vector<int32_t>& ids,
                         int64_t batch, int64_t seq, std::vector<at::Tensor>* layer_outputs,
                         const LayerCall* layer_call) {
  at::Tensor x = embedTokens(c, w.embed, w.positions, ids, batch, seq);
  const Rope rope = rotaryTable(c, seq, x.scalar_type());
  const at::Tensor causal_bias = causalBias(seq, 0, x.scalar_type());
  for (const Layer& L : w.layers) {
    x = layer_call ? (*layer_call)(c, L, x, rope, causal_bias) : decoderLayer(c, L, x, rope, causal_bias);
    // A recorded x is never written again; an unrecorded one the next layer updates in place.
    if (layer_outputs) layer_outputs->push_back(recordsGrad(x) ? x : x.clone());
  }
  return applyNorm(c, w.final_norm, x);
}

}  // namespace decoder

}  // namespace slmc
