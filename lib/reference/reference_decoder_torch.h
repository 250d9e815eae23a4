// Internal: the reference decoder's building blocks in LibTorch, shared by the full forward
// (reference_model.cpp), the KV-cached generation (reference_generate_torch.cpp), the layer-wise
// calibration forward (layerwise_forward_torch.cpp) and model comparison. One implementation of
// a layer; only lib/reference/*_torch.cpp, reference_model.cpp and passes/distill/*_torch.cpp
// include this header (it pulls in ATen). It needs nothing of ReferenceModel, which holds its
// Weights: the decoder is the lower layer (reference_decoder_torch.cpp).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

namespace decoder {

// A float32 view of a model tensor: F32 bytes are used in place (no copy), other float dtypes
// are widened into a fresh tensor.
at::Tensor asTorch(const Tensor& t);

// Checks an activation quantizer before it is used; `linear` names the weight in the message.
void validateActivationQuant(const ActivationQuant& q, const std::string& linear);
// Every key of model.activation_quant must name a linear weight of a decoder layer.
void validateActivationQuantNames(const Model& model);

// Rounds x to signed symmetric `bits`-bit integers and back (simulated W8A8 input):
//   static:  q = clamp(round(x / scale), -2^(b-1), 2^(b-1)-1) · scale, one scale per tensor;
//   dynamic: the same with scale = max|x_row| / (2^(b-1)-1) per token row (last dimension); a zero
//            row stays zero. round is round-half-to-even (torch.round, like torch's fake_quantize).
at::Tensor fakeQuantize(const at::Tensor& x, const ActivationQuant& q);

struct Linear {
  at::Tensor weight, bias;                 // bias undefined when absent
  std::optional<ActivationQuant> input_quant;  // fake quantization of the input, when set
  at::Tensor operator()(const at::Tensor& x) const {
    return at::linear(input_quant ? fakeQuantize(x, *input_quant) : x, weight, bias);
  }
};

struct Norm {
  at::Tensor weight, bias;  // bias: LayerNorm only
};

struct Layer {
  Norm input_norm, post_norm;
  Linear q, k, v, o, gate, up, down;  // gate: gated (Llama) MLPs only
};

Norm loadNorm(const Model& model, const std::string& prefix);
// Layer i of `model` (its current tensors and activation quantizers).
Layer loadLayer(const Model& model, int64_t i);

at::Tensor applyNorm(const ModelConfig& c, const Norm& n, const at::Tensor& x);

// Rotary tables for positions [begin, begin + length): cos, sin [length, head_dim]; undefined
// for learned positions.
struct Rope {
  at::Tensor cos, sin;
  Rope narrow(int64_t begin, int64_t length) const;
};
// The angles are computed in float32 as Hugging Face does (also for float64 models, whose
// tables are float32 values cast up), then held as `dtype`.
Rope rotaryTable(const ModelConfig& c, int64_t length, at::ScalarType dtype = at::kFloat);

// Additive causal mask of `rows` query rows at positions past .. past+rows-1 over keys
// 0 .. past+rows-1: 0 where a key is visible, -inf after the query's position.
at::Tensor causalBias(int64_t rows, int64_t past, at::ScalarType dtype = at::kFloat);

// Checks ids against the vocabulary and [batch, seq] against the context (past tokens included)
// and returns the token embeddings (+ learned positions past .. past+seq-1): a fresh [B, S, H]
// tensor that the layers update in place.
at::Tensor embedTokens(const ModelConfig& c, const at::Tensor& embed, const at::Tensor& positions,
                       const std::vector<int32_t>& ids, int64_t batch, int64_t seq, int64_t past = 0);

// The four inputs of a layer's linears (activation_stats.h): the hook sees each one as the
// linears read it, before any activation fake quantization.
enum class Site { AttnIn = 0, AttnOut = 1, MlpIn = 2, MlpOut = 3 };
inline constexpr int kNumSites = 4;
const char* siteName(Site site);
using SiteHook = std::function<void(Site, const at::Tensor&)>;

// Keys and values of past positions for one layer: [B, nkv, capacity, head_dim] each.
struct KvCache {
  at::Tensor k, v;
};

// One layer's self-attention on norm(x) for x [B, S, H] at positions past .. past+S-1; returns
// [B, S, H] (before the residual add). With `cache`, this call's keys/values are stored at
// [past, past+S) and the queries attend to all cached positions up to their own; without it,
// past must be 0. `causal_bias` is causalBias(S, past) (built once per forward, shared by layers).
at::Tensor selfAttention(const ModelConfig& c, const Layer& L, const at::Tensor& x, const Rope& rope,
                         const at::Tensor& causal_bias, int64_t past = 0, KvCache* cache = nullptr,
                         const SiteHook* hook = nullptr);

// One layer's MLP on norm(x): SwiGLU for the Llama family, GELU (tanh) for GPT-2.
at::Tensor feedForward(const ModelConfig& c, const Layer& L, const at::Tensor& x, const SiteHook* hook = nullptr);

// A whole decoder's tensors, as ReferenceModel converts them once (and distillation's student
// binds its trainable leaves).
struct Weights {
  at::Tensor embed, positions, head;  // positions: learned only; head: the embedding when tied
  Norm final_norm;
  std::vector<Layer> layers;
};

// One whole layer on the residual stream x [B, S, H] (positions from 0): x + attention, then +
// MLP. Updates x in place unless autograd records the graph.
at::Tensor decoderLayer(const ModelConfig& c, const Layer& L, at::Tensor x, const Rope& rope,
                        const at::Tensor& causal_bias);
// How forwardHidden runs a layer (decoderLayer's arguments); distillation passes one that
// recomputes the layer's activations in the backward instead of keeping them.
using LayerCall = std::function<at::Tensor(const ModelConfig&, const Layer&, const at::Tensor& x, const Rope&,
                                           const at::Tensor& causal_bias)>;
// The whole decoder over [batch, seq] ids, up to and including the final norm: [B, S, H].
// With `layer_outputs`, the residual stream after each layer is appended to it ([B, S, H] each,
// tensors of their own: distillation's hidden-state losses read them). `layer_call` replaces
// decoderLayer when given.
at::Tensor forwardHidden(const ModelConfig& c, const Weights& w, const std::vector<int32_t>& ids,
                         int64_t batch, int64_t seq, std::vector<at::Tensor>* layer_outputs = nullptr,
                         const LayerCall* layer_call = nullptr);
}  // namespace decoder

}  // namespace slmc
