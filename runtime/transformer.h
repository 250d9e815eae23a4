// The runtime's decoder: runs a .slmc pack on the CPU without LibTorch, the way llama2.c's run.c
// reads: config (the pack's ModelConfig), weights (views into the mapped pack), run state (the
// activations and the KV cache), forward. Both families of slmc's generic decoder run here:
// Llama (RMSNorm, rotary positions, SwiGLU, grouped-query attention, optional q/k/v biases) and
// GPT-2 (LayerNorm, learned positions, GELU-tanh, biases), with the pack's activation fake
// quantization applied before each linear that has one, exactly as lib/reference/reference_model.cpp does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/format/pack_reader.h"
#include "lib/model/model.h"
#include "lib/model/model_config.h"
#include "runtime/kernels.h"

namespace slmc::runtime {

// ---------------------------------------------------------------------------------------------
// Weights: every matrix is a QuantMatrix view into the pack (no copy); norms and biases (small)
// are widened to float32 once.

struct Linear {
  QuantMatrix weight;                          // [out, in]
  std::vector<float> bias;                     // [out]; empty when the layer has none
  std::optional<ActivationQuant> input_quant;  // fake quantization of the input, when set
};

struct Norm {
  std::vector<float> weight, bias;  // bias: LayerNorm only
};

struct LayerWeights {
  Norm attn_norm, mlp_norm;
  Linear q, k, v, o;
  Linear gate, up, down;  // gate: gated (Llama) MLPs only
};

struct Weights {
  QuantMatrix embed;      // [vocab, hidden]
  QuantMatrix positions;  // [ctx, hidden]: learned positions (GPT-2) only
  QuantMatrix head;       // [vocab, hidden]: lm_head, or the embedding when tied
  Norm final_norm;
  std::vector<LayerWeights> layers;
};

// ---------------------------------------------------------------------------------------------
// Run state: activations of one chunk of up to kChunk positions, and the KV cache.

struct RunState {
  std::vector<float> x;                       // [chunk, hidden] residual stream
  std::vector<float> xn;                      // [chunk, hidden] norm(x): input of q/k/v, the MLP, the head
  std::vector<float> xq;                      // [chunk, max(hidden, q_dim, ffn)] fake-quantized linear input
  std::vector<float> q;                       // [chunk, q_dim] queries (q_dim = heads * head_dim)
  std::vector<float> k, v;                    // [chunk, kv_dim] this chunk's keys and values
  std::vector<float> att;                     // [chunk, q_dim] attention output, the input of o_proj
  std::vector<float> proj;                    // [chunk, hidden] output of o_proj / down_proj
  std::vector<float> hb, hb2;                 // [chunk, ffn] MLP hidden (gate, up)
  std::vector<float> scores;                  // [threads, ctx] attention scores, one row per thread
  std::vector<float> logits;                  // [chunk, vocab]
  // [layers, kv_heads, ctx, head_dim]: each head's keys (values) one contiguous run, which its
  // attention streams through (rows of all heads [ctx, kv_dim] would be a 1-4 KiB stride, one
  // page per position, which the hardware prefetcher does not follow). Left uninitialised: only
  // positions already written are read, so a page is touched when its first position is written.
  // Zero-filling the whole context up front (SmolLM2: 8192 positions, 2 x 189 MB) cost a run
  // with a short prompt more than its prefill.
  std::unique_ptr<float[]> key_cache, value_cache;
  std::vector<float> rope_cos, rope_sin;      // [ctx, head_dim / 2]: rotary only
};

// ---------------------------------------------------------------------------------------------

class Transformer {
 public:
  // Positions per batched forward in prefill (rows of each matmul).
  static constexpr int64_t kChunk = 64;

  // Builds the weights over `pack` (kept alive). `max_context` caps the KV cache (0: the model's
  // context). Throws Error naming the tensor when the pack holds something the runtime cannot
  // run (a missing tensor, an unsupported storage, a wrong shape).
  explicit Transformer(std::shared_ptr<const PackFile> pack, int64_t max_context = 0);
  // Opens, checks (every block's checksum) and loads a pack.
  static Transformer open(const std::string& path, int64_t max_context = 0);

  const ModelConfig& config() const { return config_; }
  const PackFile& pack() const { return *pack_; }
  int64_t context() const { return context_; }  // positions the KV cache holds
  int64_t position() const { return pos_; }     // positions filled so far
  void reset() { pos_ = 0; }                    // forget the cache (start a new sequence)

  // Runs ids[0, n) at the next n positions (in chunks of kChunk). Returns the logits [vocab]
  // of the last one, valid until the next call. With `all_logits`, also writes every
  // position's logits there: [n, vocab]. Throws Error for ids outside the vocabulary or past
  // the context.
  const float* prefill(const int32_t* ids, int64_t n, float* all_logits = nullptr);
  // One token at the next position: prefill(&token, 1).
  const float* step(int32_t token) { return prefill(&token, 1); }

  // Bytes of weights one generated token reads: every linear, the head, one embedding row.
  int64_t weightBytesPerToken() const;

 private:
  void forwardChunk(const int32_t* ids, int64_t n, bool all_logits);
  void attention(int64_t layer, int64_t n);

  std::shared_ptr<const PackFile> pack_;
  ModelConfig config_;
  int64_t context_ = 0;
  Weights w_;
  RunState s_;
  int64_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Scoring helpers for perplexity and validation.

// -log softmax(logits)[target] in float64.
double tokenNll(const float* logits, int64_t vocab, int32_t target);

// Sum of the next-token NLLs of the window ids[begin, end) run from an empty cache, for targets
// ids[score_from, end) (lib/reference/perplexity.h's EvalWindow).
double windowNll(Transformer& model, const int32_t* ids, int64_t begin, int64_t end, int64_t score_from);

// OpenMP threads for the runtime's compute; n <= 0 leaves the default (all cores).
void setRuntimeThreads(int n);
int runtimeThreads();

}  // namespace slmc::runtime
