// Internal: the LibTorch pieces of distillation, shared by passes/distill/*_torch.cpp only (it
// pulls in ATen; the public interface is distill_trainer.h). The student is the reference
// decoder itself (lib/reference/reference_decoder_torch.h) over weights that are autograd leaves, so what
// is trained is exactly what every other command evaluates.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/reference_decoder_torch.h"
#include "lib/support/data_parallel.h"
#include "passes/distill/distill_options.h"
#include "passes/distill/distill_trainer.h"
#include "passes/distill/teacher_cache.h"

namespace slmc::distill {

// A quantized weight trained through its grid (quantization-aware training, LSQ-style): a float
// latent W and a learnable scale per group s; the forward uses
//   Ŵ = (clamp(⌊W / s̃ + z + ½⌋, 0, maxq) − z) · s̃,   s̃ = s rounded to float16,
// with straight-through gradients for the rounding (so ∂Ŵ/∂W = 1 inside the grid, 0 outside, and
// s gets LSQ's gradient). The zero points stay fixed. Ŵ is exactly what the quantized tensor
// re-derived from (W, s̃) dequantizes to, so the trained forward is the packed model's.
struct FakeQuantWeight {
  size_t latent = 0, scale = 0;  // indices in TrainableStudent::parameters
  at::Tensor zero, sign;         // [rows, groups] float: the fixed zero points, the scales' signs
  std::shared_ptr<const QuantizedTensor> source;  // scheme, shape and zeros
};

struct TrainableStudent {
  ModelConfig config;
  // Every tensor of the model as a float32 leaf with requires_grad, by Hugging Face name, in the
  // model's tensor order (a tied head is the embedding: listed once). Trained through the grid,
  // a quantized weight's leaf is its latent (starting at its dequantized values, so the first
  // forward is the quantized model's) and its scales follow as "<name>.qat_scale".
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  std::vector<bool> decayed;  // per parameter: AdamW's weight decay applies (matrices, not scales)
  // Sparse weights (Model::sparsity): parameter index → its mask of kept weights, re-applied
  // after every update so that pruned weights stay exactly zero.
  std::vector<std::pair<size_t, at::Tensor>> masks;
  std::vector<FakeQuantWeight> fake_quant;

  // The decoder's weights over the current leaves (fake-quantized ones recomputed: bind once per
  // forward, inside the autograd graph of that forward).
  decoder::Weights bind() const;
  // After an optimizer step: masks re-applied, scales kept away from 0 (their sign fixed).
  void project();
};

inline constexpr const char* kQatScaleSuffix = ".qat_scale";

// Copies `model`'s weights into fresh leaves (the model is not modified). A quantized model is
// refused unless through_grid (then each quantized weight becomes a FakeQuantWeight).
TrainableStudent makeTrainableStudent(const Model& model, bool through_grid = false);
// A student whose leaves are views of `model`'s own float32 storage (other dtypes converted):
// for gradients with respect to the weights (weight_fisher.h), never for training, which would
// write into the model. Float weights only, no masks.
TrainableStudent viewStudent(const Model& model);
// Writes the student's current values into `model`: float tensors as float32, weights trained
// through the grid as quantized tensors re-derived from their latents and scales.
void copyStudentInto(const TrainableStudent& student, Model& model);

// Logits [batch, seq, vocab] of the decoder over row-major ids; recorded by autograd when the
// weights require grad and grad mode is on. With `layer_outputs`, each layer's residual stream
// is appended to it (decoder::forwardHidden).
// With `recompute`, each layer keeps only its input for the backward and runs again there
// (recomputedLayer): activation checkpointing, the same gradients for less memory.
at::Tensor decoderLogits(const ModelConfig& config, const decoder::Weights& weights,
                         const std::vector<int32_t>& ids, int64_t batch, int64_t seq,
                         std::vector<at::Tensor>* layer_outputs = nullptr, bool recompute = false);
// decoder::decoderLayer as a custom autograd Function that saves only its input and its weight
// tensors and recomputes the layer's activations in the backward.
at::Tensor recomputedLayer(const ModelConfig& c, const decoder::Layer& L, const at::Tensor& x,
                           const decoder::Rope& rope, const at::Tensor& causal_bias);

// Hidden-state distillation: student layer pairs[i].first learns the residual stream after
// teacher layer pairs[i].second, through projections[i] ([teacher width, student width], a
// trainable leaf) when the widths differ (none when they are equal).
struct HiddenStateMatch {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  std::vector<at::Tensor> projections;
};
// The pairs `map` names ("0:0,5:9"), or for "auto" / "" every student layer with the teacher
// layer as deep in proportion (the last layers meet). Throws the Error naming a bad item.
std::vector<std::pair<int64_t, int64_t>> hiddenLayerPairs(const std::string& map, int64_t student_layers,
                                                          int64_t teacher_layers);
HiddenStateMatch makeHiddenStateMatch(const ModelConfig& student, const ModelConfig& teacher, const std::string& map);
// Means over the pairs of the relative MSE ‖s − t‖² / ‖t‖² (per element means) and of the
// cosine distance 1 − cos(s, t) per token, between each pair's student and teacher layer outputs.
std::pair<at::Tensor, at::Tensor> hiddenStateLosses(const HiddenStateMatch& match,
                                                    const std::vector<at::Tensor>& student_layers,
                                                    const std::vector<at::Tensor>& teacher_layers);

// The loss terms of distill_options.h for one micro-batch, as scalars. `total` is the weighted
// sum and the only term autograd records; the others are detached figures.
struct LossTerms {
  at::Tensor total, forward_kl, reverse_kl, cross_entropy;
};
// student_logits, teacher_logits: [B, S, V]; ids: [B, S] long (cross-entropy scores ids[:, 1:]).
LossTerms distillLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& ids,
                      const DistillLossWeights& weights);
// The same from the teacher's top-k cache (teacher_cache.h): top_ids [B, S, k] long and their
// log-probabilities at the loss's temperature [B, S, k]; forward KL is over the k tokens plus
// one bucket for the rest of the vocabulary (a lower bound of distillLoss's, equal at k =
// vocabulary). Reverse KL needs the whole distribution: reported as 0 (the trainer refuses a
// reverse_kl weight with a cache).
LossTerms distillLossTopK(const at::Tensor& student_logits, const at::Tensor& top_ids,
                          const at::Tensor& top_log_probs, const at::Tensor& ids, const DistillLossWeights& weights);

// AdamW as torch.optim.AdamW computes it (decoupled decay, bias-corrected moments), over the
// parameters' .grad(); the decayed ones (TrainableStudent::decayed: matrices, not norms, biases or
// scales) get the decoupled weight decay.
class AdamW {
 public:
  // decayed[i]: parameter i gets the decoupled weight decay.
  AdamW(std::vector<at::Tensor> parameters, std::vector<bool> decayed, const DistillOptions& options);
  void step(double lr);
  int64_t steps() const { return steps_; }
  // The moments of parameter i (for checkpoints) and how to put saved ones back.
  const at::Tensor& expAvg(size_t i) const { return exp_avg_[i]; }
  const at::Tensor& expAvgSq(size_t i) const { return exp_avg_sq_[i]; }
  void restore(int64_t steps, std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq);

 private:
  std::vector<at::Tensor> parameters_, exp_avg_, exp_avg_sq_;
  std::vector<bool> decayed_;
  double beta1_, beta2_, epsilon_, weight_decay_;
  int64_t steps_ = 0;
};

// Scales the gradients so that their global L2 norm is at most max_norm (torch's
// clip_grad_norm_); returns the norm before clipping. max_norm <= 0: only measures.
double clipGradNorm(const std::vector<at::Tensor>& parameters, double max_norm);

// The ranks of a data-parallel run (DistillOptions::parallel), joined through LibTorch's c10d
// (ProcessGroupGloo over a TCPStore rendezvous served by rank 0). Each rank trains on its share of
// every micro-batch; averaging the gradients before the update makes every rank take the same
// step, the one a single process takes over the whole batch. A single-process group does nothing.
// A rank that cannot reach the others (one stopped, the network failed) gets one Error.
class DataParallel {
 public:
  explicit DataParallel(const DataParallelGroup& group);  // blocks until every rank has joined
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int64_t rank() const;
  int64_t worldSize() const;
  // `values` replaced by their sums over the ranks (`what` names the step for an error).
  void sum(std::vector<double>& values, const std::string& what);
  void sum(at::Tensor& values, const std::string& what);  // a contiguous tensor, in place
  // Each parameter's .grad() replaced by its mean over the ranks.
  void averageGradients(const std::vector<at::Tensor>& parameters);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};


// This rank's share of sequences [first, first + count): every world_size-th from `rank`, in
// batches of at most `batch` (the held-out perplexity and the teacher's top-k pass split so).
std::vector<std::vector<int64_t>> rankShareBatches(int64_t first, int64_t count, int64_t batch, int64_t rank,
                                                   int64_t world_size);
// Sequences `which` of `data`, one after another (a batch's row-major ids).
std::vector<int32_t> sequenceRows(const DistillData& data, const std::vector<int64_t>& which);

// The teacher's top-k log-probabilities (at `temperature`) over every sequence of `data`, in
// batches of `batch`: each rank of `group` scores its share (every world_size-th sequence) and
// the shares are summed, so every rank ends with the whole. `progress(done, total)` per batch.
// The fingerprint is left for the caller.
TeacherTopK teacherTopK(const ModelConfig& config, const decoder::Weights& weights, const DistillData& data, int64_t k,
                        double temperature, int64_t batch, DataParallel& group,
                        const std::function<void(int64_t, int64_t)>& progress);
// Sequences `which` of a cache: ids [which, seq_len, k] long, log-probabilities float.
at::Tensor cachedTopIds(const TeacherTopK& cache, const std::vector<int64_t>& which);
at::Tensor cachedTopLogProbs(const TeacherTopK& cache, const std::vector<int64_t>& which);

}  // namespace slmc::distill
