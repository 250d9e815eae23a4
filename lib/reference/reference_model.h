// slmc's reference forward: one generic decoder (RMSNorm/LayerNorm, SwiGLU/GELU MLP, rotary or
// learned positions, optional biases, grouped-query attention, tied embeddings) run with
// LibTorch on the CPU in float32. Every pass is measured against it. This header is
// LibTorch-free on purpose: including <torch/...> costs seconds per file.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/attention_blocks.h"

namespace slmc {

namespace decoder {
struct Weights;
}

// The arithmetic of the reference forward. Float32 is what every pass measures against (as
// transformers runs a float32 checkpoint); Float64 copies the weights to float64 and runs the
// whole forward in float64 (the rotary angles excepted: float32, as transformers computes them),
// which `slmc validate --reference-dtype float64` uses to measure how far a float32 engine's logits
// are from the exact ones rather than from another float32 rounding of them.
enum class ReferencePrecision { Float32, Float64 };

class ReferenceModel {
 public:
  // Weights are converted to float32 once; F32 tensors are used in place (no copy). Float64:
  // weights are copied to float64. Outputs are float32 either way.
  explicit ReferenceModel(const Model& model, ReferencePrecision precision = ReferencePrecision::Float32);
  ~ReferenceModel();
  ReferenceModel(const ReferenceModel&) = delete;
  ReferenceModel& operator=(const ReferenceModel&) = delete;

  const ModelConfig& config() const { return config_; }
  ReferencePrecision precision() const { return precision_; }

  // Full-sequence causal forward. `ids` is row-major [batch, seq]; returns float32 logits
  // [batch, seq, vocab]. Throws Error for ids outside the vocabulary or seq past the context.
  Tensor logits(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const;

  // Negative log-likelihood of each next token: out[b * (seq-1) + t] = -log p(ids[b, t+1] | ids[b, ..t]).
  // Same forward as logits(), without copying the logits out.
  std::vector<float> nextTokenNll(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const;

  // Samples `new_tokens` tokens after each of `batch` prompts (prompts: row-major [batch,
  // prompt_len]) with a KV cache; returns row-major [batch, prompt_len + new_tokens]. Sampling is
  // seeded and platform-independent (mt19937_64, 53-bit uniforms); temperature 0 is greedy.
  struct SamplingOptions {
    double temperature = 1.0;
    int64_t top_k = 0;  // 0: whole vocabulary
    uint64_t seed = 0;
  };
  std::vector<int32_t> generate(const std::vector<int32_t>& prompts, int64_t batch, int64_t prompt_len,
                                int64_t new_tokens, const SamplingOptions& options) const;

  // Multiply-add FLOPs of one forward over [batch, seq] (linear layers, attention, head).
  double forwardFlops(int64_t batch, int64_t seq) const;

  using Weights = decoder::Weights;  // LibTorch tensors (lib/reference/reference_decoder_torch.h, internal)
  const Weights& weights() const { return *weights_; }  // for lib/*_torch.cpp

 private:
  ModelConfig config_;
  ReferencePrecision precision_;
  std::unique_ptr<Weights> weights_;
};

// Sets the CPU threads LibTorch (and the BLAS under it) uses; n <= 0 means all cores.
void setComputeThreads(int n);
int computeThreads();

}  // namespace slmc
