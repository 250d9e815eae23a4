// What one distillation run does, as plain data parsed once at the edge (the `distill` pass's
// options or the `slmc distill` flags): the loss mix, the optimizer and its schedule, how often
// to measure and to checkpoint. The trainer (distill_trainer.h) only reads these.
#pragma once

#include <cstdint>
#include <string>

#include "lib/support/data_parallel.h"

namespace slmc {

// The loss is a weighted sum of terms over every token of a batch (weights of 0 drop a term):
//   forward KL   T²·KL(p_teacher^T ‖ p_student^T)  with p^T = softmax(logits / T) (Hinton et al.:
//                the T² keeps the gradient scale independent of T);
//   reverse KL   T²·KL(p_student^T ‖ p_teacher^T)  (mode-seeking; MiniLLM);
//   cross-entropy of the student on the data's next tokens (temperature 1).
//   hidden MSE   ‖h_s − h_t‖² / ‖h_t‖² between mapped layers' residual streams (a learned
//                projection when the widths differ), averaged over the pairs;
//   hidden cosine  1 − cos(h_s, h_t) per token, the same pairs.
struct DistillLossWeights {
  double forward_kl = 1.0;
  double reverse_kl = 0.0;
  double cross_entropy = 0.0;
  double temperature = 1.0;
  double hidden_mse = 0.0;
  double hidden_cosine = 0.0;
  bool hidden() const { return hidden_mse != 0 || hidden_cosine != 0; }
};

struct DistillOptions {
  DistillLossWeights loss;
  // The hidden-state terms' layer pairs: "auto" (every student layer with the teacher layer as
  // deep in proportion) or "S:T,S:T,…" (distill_torch.h's hiddenLayerPairs).
  std::string hidden_layers = "auto";
  // Optimizer steps; each step sees batch × accumulation sequences (gradients of `accumulation`
  // micro-batches of `batch` sequences are summed before the update).
  int64_t steps = 100;
  int64_t batch = 4;
  int64_t accumulation = 1;
  // AdamW (decoupled weight decay on matrices only: norms and biases are not decayed), with
  // linear warmup over `warmup` steps to `lr`, then a cosine to lr · final_lr_fraction.
  double lr = 3e-4;
  double final_lr_fraction = 0.1;
  int64_t warmup = 10;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double clip = 1.0;  // global gradient-norm clip (0: none)
  // Activation checkpointing: each student layer keeps only its input for the backward and runs
  // again there. The same gradients for about a third more compute; the activations held drop
  // from every layer's internals to one layer's (distill_memory.h counts it).
  bool recompute = false;
  // Mixed precision: the teacher's and student's forward run under LibTorch's CPU autocast in
  // bfloat16 (matrix products in bf16, the master weights, gradients and AdamW in float32; the
  // losses are taken in float32). Held-out perplexity stays float32.
  bool bf16 = false;
  // Held-out perplexity of the student: measured before the first step, every eval_every steps
  // (0: only then and at the end) and after the last step, on `heldout` sequences kept out of
  // training (the last ones of the data).
  int64_t heldout = 4;
  int64_t eval_every = 0;
  // Sequences the teacher samples from BOS (temperature 1, seeded by `seed`) and the student
  // trains on besides the data; they go before the data, so the held-out sequences stay data.
  int64_t generate = 0;
  // Checkpoints (weights, optimizer, schedule position, RNG, data position) every
  // checkpoint_every steps into checkpoint_dir, each written atomically; resume continues the run
  // saved in that directory bit for bit. stop_after > 0 ends the run after that step (with a
  // checkpoint), to be resumed later.
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;
  std::string resume;
  int64_t stop_after = 0;
  uint64_t seed = 0;  // data order
  // Quantization-aware training: a quantized student is trained through its grids (latent
  // weights and per-group scales, straight-through rounding; distill_torch.h's FakeQuantWeight)
  // and comes out quantized on the same schemes, codes re-derived. Without it a quantized student
  // is refused.
  bool qat = false;
  // The teacher's top-k next-token distributions over the training sequences, kept in this HDF5
  // file (teacher_cache.h): made by the first run (one teacher pass before training), reused by
  // any later run with the same teacher, data and k, which then trains without a teacher
  // forward per step. Forward KL is then over the teacher's top k tokens plus one bucket for the
  // rest of the vocabulary (distill_torch.h's distillLossTopK).
  std::string teacher_cache;
  int64_t teacher_top_k = 64;
  // Data parallel: each of the group's ranks runs the same options on its share of every
  // micro-batch (batch must split evenly), gradients averaged before each update, so the run
  // equals one process's with the same batch (within float rounding). Rank 0 alone writes the
  // checkpoints; every rank reads the one it resumes from.
  DataParallelGroup parallel;
};

}  // namespace slmc
