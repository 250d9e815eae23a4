// The reference decoder run one layer at a time over a fixed set of calibration samples, the way
// GPTQ calibrates: layer i sees the outputs of layers < i *as they are in the model now* (already
// quantized/pruned), so errors do not compound unseen. Memory: the model plus one [batch, seq,
// hidden] set of hidden states and one layer's activations, never the whole history.
// LibTorch-free header; the implementation shares the reference forward's code.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/activation_stats.h"

namespace slmc {

struct LayerwiseOptions {
  int64_t sample_rows = 1024;  // token rows per site kept for observers (0: none)
  uint64_t seed = 0;           // which rows are kept
  int64_t batch = 8;           // samples per forward chunk (bounds the activation memory)
  // The layer's forward and its sites' XᵀX under bfloat16 autocast (bf16_autocast_torch.h):
  // SmolLM2-135M's calibration forward 2.1× faster on a CPU with AMX; the inputs reach the sites
  // rounded to bf16 and each chunk's XᵀX is rounded to bf16 before its float64 accumulation.
  bool bf16 = false;
};

class LayerwiseForward {
 public:
  // ids: row-major [num_samples, seq]; embeds them with `model`'s embeddings.
  LayerwiseForward(const Model& model, const std::vector<int32_t>& ids, int64_t num_samples, int64_t seq,
                   const LayerwiseOptions& options);
  ~LayerwiseForward();
  LayerwiseForward(const LayerwiseForward&) = delete;
  LayerwiseForward& operator=(const LayerwiseForward&) = delete;

  int64_t nextLayer() const;  // the layer collect()/advance() act on
  int64_t numLayers() const;

  // Runs the next layer with `model`'s current weights over all samples and returns the input
  // statistics of its sites. Does not advance. Throws Error naming the layer and site when an
  // activation is NaN/Inf. The statistics are of the raw inputs, before any activation fake
  // quantization the model sets (the forward itself applies it); see layerwise_forward_torch.cpp
  // for the accumulation precision and the seeded choice of sampled rows.
  LayerStats collect(const Model& model);
  // Recomputes the next layer's outputs with `model`'s current weights (after a pass changed
  // them) and moves on to the following layer.
  void advance(const Model& model);

  // The hidden states entering nextLayer() (after all layers: the last layer's output, before
  // the final norm), float32 [num_samples, seq, hidden]; a copy, for tests and diagnostics.
  Tensor hiddenStates() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace slmc
