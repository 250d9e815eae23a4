// Internal: the LibTorch pieces of distillation, shared by passes/distill/*_torch.cpp only (it
// pulls in ATen; the public interface is distill_trainer.h). The student is the reference
// decoder itself (lib/reference/reference_decoder_torch.h) over weights that are autograd leaves, so what
// is trained is exactly what every other command evaluates.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/reference_decoder_torch.h"
#include "passes/distill/distill_options.h"

namespace slmc::distill {

struct TrainableStudent {
  ModelConfig config;
  decoder::Weights weights;  // the leaves below, bound as the decoder reads them
  // Every tensor of the model as a float32 leaf with requires_grad, by Hugging Face name, in the
  // model's tensor order (a tied head is the embedding: listed once).
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  // Sparse weights (Model::sparsity): parameter index → its mask of kept weights, re-applied
  // after every update so that pruned weights stay exactly zero.
  std::vector<std::pair<size_t, at::Tensor>> masks;
};

// Copies `model`'s float weights into fresh leaves (the model is not modified).
TrainableStudent makeTrainableStudent(const Model& model);
// Writes the student's current values into `model` (float32, same names and shapes).
void copyStudentInto(const TrainableStudent& student, Model& model);

// Logits [batch, seq, vocab] of the decoder over row-major ids; recorded by autograd when the
// weights require grad and grad mode is on.
at::Tensor decoderLogits(const ModelConfig& config, const decoder::Weights& weights,
                         const std::vector<int32_t>& ids, int64_t batch, int64_t seq);

// The loss terms of distill_options.h for one micro-batch, as scalars. `total` is the weighted
// sum and the only term autograd records; the others are detached figures.
struct LossTerms {
  at::Tensor total, forward_kl, reverse_kl, cross_entropy;
};
// student_logits, teacher_logits: [B, S, V]; ids: [B, S] long (cross-entropy scores ids[:, 1:]).
LossTerms distillLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& ids,
                      const DistillLossWeights& weights);

// AdamW as torch.optim.AdamW computes it (decoupled decay, bias-corrected moments), over the
// parameters' .grad(); matrices (dim >= 2) are decayed, norms and biases are not.
class AdamW {
 public:
  AdamW(std::vector<at::Tensor> parameters, const DistillOptions& options);
  void step(double lr);
  int64_t steps() const { return steps_; }
  // The moments of parameter i (for checkpoints) and how to put saved ones back.
  const at::Tensor& expAvg(size_t i) const { return exp_avg_[i]; }
  const at::Tensor& expAvgSq(size_t i) const { return exp_avg_sq_[i]; }
  void restore(int64_t steps, std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq);

 private:
  std::vector<at::Tensor> parameters_, exp_avg_, exp_avg_sq_;
  double beta1_, beta2_, epsilon_, weight_decay_;
  int64_t steps_ = 0;
};

// Scales the gradients so that their global L2 norm is at most max_norm (torch's
// clip_grad_norm_); returns the norm before clipping. max_norm <= 0: only measures.
double clipGradNorm(const std::vector<at::Tensor>& parameters, double max_norm);

}  // namespace slmc::distill
