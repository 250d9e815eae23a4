#include "lib/reference_model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "lib/error.h"

namespace slmc {

namespace {

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

struct Linear {
  at::Tensor weight, bias;  // bias undefined when absent
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, weight, bias); }
};

struct Norm {
  at::Tensor weight, bias;
};

struct Layer {
  Norm input_norm, post_norm;
  Linear q, k, v, o, gate, up, down;
};

}  // namespace

struct ReferenceModel::Weights {
  at::Tensor embed, positions, head;
  Norm final_norm;
  std::vector<Layer> layers;
};

ReferenceModel::ReferenceModel(const Model& model) : config_(model.config), weights_(std::make_unique<Weights>()) {
  const ModelConfig& c = config_;
  const TensorMap& T = model.tensors;
  const auto get = [&](const std::string& name) { return asTorch(T.at(name)); };
  const auto opt = [&](const std::string& name) { return T.contains(name) ? asTorch(T.at(name)) : at::Tensor(); };
  const auto linear = [&](int64_t i, const std::string& name) {
    return Linear{get(names::layer(i, name + ".weight")), opt(names::layer(i, name + ".bias"))};
  };
  const auto norm = [&](const std::string& prefix) { return Norm{get(prefix + ".weight"), opt(prefix + ".bias")}; };
  Weights& w = *weights_;
  w.embed = get(names::kEmbedTokens);
  if (c.positions == PositionType::Learned) w.positions = get(names::kEmbedPositions);
  w.head = c.tie_word_embeddings ? w.embed : get(names::kLmHead);
  w.final_norm = norm(names::kFinalNorm);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    Layer L;
    L.input_norm = norm(names::layer(i, "input_layernorm"));
    L.post_norm = norm(names::layer(i, "post_attention_layernorm"));
    L.q = linear(i, "self_attn.q_proj");
    L.k = linear(i, "self_attn.k_proj");
    L.v = linear(i, "self_attn.v_proj");
    L.o = linear(i, "self_attn.o_proj");
    if (c.gatedMlp()) L.gate = linear(i, "mlp.gate_proj");
    L.up = linear(i, "mlp.up_proj");
    L.down = linear(i, "mlp.down_proj");
    w.layers.push_back(std::move(L));
  }
}

ReferenceModel::~ReferenceModel() = default;

namespace {

at::Tensor applyNorm(const ModelConfig& c, const Norm& n, const at::Tensor& x) {
  if (c.norm == NormType::LayerNorm) return at::layer_norm(x, {x.size(-1)}, n.weight, n.bias, c.norm_eps);
  const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return x * at::rsqrt(variance + c.norm_eps) * n.weight;
}

// Hugging Face's rotate-half rotary embedding: pairs (i, i + head_dim/2) rotate together.
at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return x * cos + at::cat({-x2, x1}, -1) * sin;
}

at::Tensor geluTanh(const at::Tensor& x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + at::tanh(k * (x + 0.044715 * x.pow(3))));
}

struct Rope {
  at::Tensor cos, sin;  // [S, head_dim]; undefined for learned positions
};

// One layer's self-attention on norm(x); returns [B, S, nh*hd] (before the residual add).
at::Tensor selfAttention(const ModelConfig& c, const Layer& L, const at::Tensor& x, const Rope& rope,
                         const at::Tensor& causal_bias, int64_t batch, int64_t seq) {
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim, rep = nh / nkv;
  at::Tensor q, k, v;
  {
    const at::Tensor h = applyNorm(c, L.input_norm, x);  // freed before the attention itself
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
  const at::Tensor q5 = q.reshape({batch * nkv, rep, seq, hd});
  const at::Tensor k3 = k.reshape({batch * nkv, seq, hd}), v3 = v.reshape({batch * nkv, seq, hd});
  at::Tensor out = at::empty({batch * nkv, rep, seq, hd}, at::kFloat);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Causal attention in blocks of query rows: a block only attends to the keys up to its last
  // row, which skips most of the masked half of the scores and keeps each block's scores in cache.
  for (const AttentionBlock& b : causalAttentionBlocks(seq)) {
    const at::Tensor bias = causal_bias.narrow(0, b.begin, b.rows).narrow(1, 0, b.keys).repeat({rep, 1});
    const at::Tensor scores =
        at::baddbmm(bias, q5.narrow(2, b.begin, b.rows).reshape({batch * nkv, rep * b.rows, hd}),
                    k3.narrow(1, 0, b.keys).transpose(1, 2), 1.0, scale);
    out.narrow(2, b.begin, b.rows)
        .copy_(at::bmm(at::softmax(scores, -1), v3.narrow(1, 0, b.keys)).view({batch * nkv, rep, b.rows, hd}));
  }
  return L.o(out.view({batch, nh, seq, hd}).transpose(1, 2).reshape({batch, seq, nh * hd}));
}

// One layer's MLP on norm(x): SwiGLU for the Llama family, GELU (tanh) for GPT-2.
at::Tensor feedForward(const ModelConfig& c, const Layer& L, const at::Tensor& x) {
  at::Tensor act;
  {
    const at::Tensor m = applyNorm(c, L.post_norm, x);  // freed before the down projection
    if (c.gatedMlp()) {
      act = L.gate(m);
      at::silu_(act).mul_(L.up(m));
    } else {
      act = geluTanh(L.up(m));
    }
  }
  return L.down(act);
}

// The whole decoder, up to the final norm.
at::Tensor forwardHidden(const ModelConfig& c, const ReferenceModel::Weights& w, const std::vector<int32_t>& ids,
                         int64_t batch, int64_t seq) {
  require(batch > 0 && seq > 0 && static_cast<int64_t>(ids.size()) == batch * seq,
          "internal: " + std::to_string(ids.size()) + " ids for a [" + std::to_string(batch) + ", " +
              std::to_string(seq) + "] batch");
  require(seq <= c.max_position_embeddings,
          "sequence length " + std::to_string(seq) + " exceeds the model's context of " +
              std::to_string(c.max_position_embeddings) + " tokens (use a smaller --ctx)");
  for (int32_t id : ids)
    require(id >= 0 && id < c.vocab_size, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                              std::to_string(c.vocab_size) + ") (wrong token file for this model?)");
  const at::Tensor tokens =
      at::from_blob(const_cast<int32_t*>(ids.data()), {batch, seq}, at::kInt).to(at::kLong);
  at::Tensor x = at::embedding(w.embed, tokens);  // [B, S, H], a fresh tensor: updated in place below
  if (c.positions == PositionType::Learned) x.add_(w.positions.narrow(0, 0, seq));

  const int64_t hd = c.head_dim;
  Rope rope;
  if (c.positions == PositionType::Rotary) {
    const at::Tensor inv_freq =
        1.0 / at::pow(c.rope_theta, at::arange(0, hd, 2, at::kFloat) / static_cast<double>(hd));
    const at::Tensor freqs = at::outer(at::arange(seq, at::kFloat), inv_freq);  // [S, hd/2]
    const at::Tensor emb = at::cat({freqs, freqs}, -1);
    rope.cos = emb.cos();
    rope.sin = emb.sin();
  }
  // Additive causal mask, fused with the scaling into one baddbmm per layer: at::matmul on the
  // 4-D view plus separate scale and masked_fill passes took 2.5x longer on stories260K.
  const at::Tensor causal_bias =
      at::zeros({seq, seq}, at::kFloat).masked_fill_(at::ones({seq, seq}, at::kBool).triu(1),
                                                     -std::numeric_limits<float>::infinity());
  for (const Layer& L : w.layers) {
    // In place where a fresh tensor would only raise the peak memory of the layer.
    x.add_(selfAttention(c, L, x, rope, causal_bias, batch, seq));
    x.add_(feedForward(c, L, x));
  }
  return applyNorm(c, w.final_norm, x);
}
}  // namespace

std::vector<AttentionBlock> causalAttentionBlocks(int64_t seq) {
  constexpr int64_t kRows = 64;
  std::vector<AttentionBlock> blocks;
  for (int64_t begin = 0; begin < seq; begin += kRows) {
    const int64_t rows = std::min(kRows, seq - begin);
    blocks.push_back({begin, rows, begin + rows});
  }
  return blocks;
}

Tensor ReferenceModel::logits(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const {
  c10::InferenceMode guard;
  const at::Tensor out = at::matmul(forwardHidden(config_, *weights_, ids, batch, seq), weights_->head.t()).contiguous();
  std::vector<float> values(static_cast<size_t>(out.numel()));
  std::memcpy(values.data(), out.data_ptr<float>(), values.size() * sizeof(float));
  return Tensor::fromFloats({batch, seq, config_.vocab_size}, std::move(values));
}

std::vector<float> ReferenceModel::nextTokenNll(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const {
  c10::InferenceMode guard;
  require(seq >= 2, "need at least 2 tokens per sequence to score a next token");
  const at::Tensor hidden =
      forwardHidden(config_, *weights_, ids, batch, seq).narrow(1, 0, seq - 1).reshape({batch * (seq - 1), -1});
  const at::Tensor targets = at::from_blob(const_cast<int32_t*>(ids.data()), {batch, seq}, at::kInt)
                                 .narrow(1, 1, seq - 1)
                                 .reshape({batch * (seq - 1)})
                                 .to(at::kLong);
  // -log p(target) = logsumexp(logits) - logits[target], over row chunks so that at most
  // kRows x vocab logits exist at once (a 32k vocabulary would otherwise dominate memory).
  constexpr int64_t kRows = 512;
  const int64_t rows = hidden.size(0);
  std::vector<float> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; r += kRows) {
    const int64_t n = std::min(kRows, rows - r);
    const at::Tensor logits = at::matmul(hidden.narrow(0, r, n), weights_->head.t());
    const at::Tensor target_logit = logits.gather(1, targets.narrow(0, r, n).unsqueeze(1)).squeeze(1);
    const at::Tensor nll = (at::logsumexp(logits, 1) - target_logit).contiguous();
    std::memcpy(out.data() + r, nll.data_ptr<float>(), static_cast<size_t>(n) * sizeof(float));
  }
  return out;
}

double ReferenceModel::forwardFlops(int64_t batch, int64_t seq) const {
  const ModelConfig& c = config_;
  const double tokens = static_cast<double>(batch * seq);
  const double q = static_cast<double>(c.num_heads * c.head_dim), kv = static_cast<double>(c.kvDim());
  const double h = static_cast<double>(c.hidden_size), f = static_cast<double>(c.intermediate_size);
  const double per_token_linear = h * (q + 2 * kv) + q * h + (c.gatedMlp() ? 3 : 2) * h * f;
  double scored = 0;  // query-key pairs the blocked causal attention computes
  for (const AttentionBlock& b : causalAttentionBlocks(seq)) scored += static_cast<double>(b.rows * b.keys);
  const double attention = 2.0 * static_cast<double>(batch * c.num_heads) * scored * c.head_dim;  // QK^T and PV
  return 2.0 * (tokens * per_token_linear * c.num_layers + attention * c.num_layers +
                tokens * h * static_cast<double>(c.vocab_size));
}

void setComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

int computeThreads() { return at::get_num_threads(); }

}  // namespace slmc
