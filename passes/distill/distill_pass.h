// `distill`: trains the pipeline's model (the student) to match a teacher's next-token
// distributions on the calibration data, e.g. after `prune_structured(…)` to win back what
// pruning lost, or with qat=true after `quantize(…)` to win back what the grid lost. The teacher is the pipeline's input model unless `teacher` names another. Only
// wiring: options → DistillOptions → distillModel() (distill_trainer.h).
#pragma once

#include "lib/pipeline/pass.h"
#include "passes/distill/distill_options.h"

namespace slmc {

class DistillPass : public Pass {
 public:
  DistillPass();

  Option<std::string> teacher{*this, "teacher", "teacher model path (default: the model the pipeline started from)", ""};
  Option<int64_t> steps{*this, "steps", "optimizer steps", 100};
  Option<int64_t> batch{*this, "batch", "sequences per micro-batch", 4};
  Option<int64_t> accumulation{*this, "accumulation", "micro-batches whose gradients are summed per step", 1};
  Option<double> lr{*this, "lr", "peak learning rate (AdamW)", 3e-4};
  Option<double> final_lr_fraction{*this, "final_lr_fraction", "learning rate at the last step, as a fraction of lr "
                                                               "(cosine decay)", 0.1};
  Option<int64_t> warmup{*this, "warmup", "linear warmup steps", 10};
  Option<double> weight_decay{*this, "weight_decay", "AdamW decoupled weight decay (matrices only)", 0.0};
  Option<double> clip{*this, "clip", "global gradient-norm clip (0: none)", 1.0};
  Option<bool> bf16{*this, "bf16", "mixed precision: forward passes under bfloat16 autocast (float32 master weights, "
                                   "gradients and optimizer)", false};
  Option<bool> recompute{*this, "recompute", "activation checkpointing: recompute each layer's activations in the "
                                             "backward (less memory, ~1/3 more compute)", false};
  Option<double> temperature{*this, "temperature", "softmax temperature of the KL terms (scaled by T^2)", 1.0};
  Option<double> kl{*this, "kl", "weight of forward KL(teacher || student)", 1.0};
  Option<double> reverse_kl{*this, "reverse_kl", "weight of reverse KL(student || teacher)", 0.0};
  Option<double> ce{*this, "ce", "weight of the cross-entropy on the data's next tokens", 0.0};
  Option<double> hidden_mse{*this, "hidden_mse", "weight of the relative MSE between mapped layers' hidden states "
                                                 "(a learned projection when widths differ)", 0.0};
  Option<double> hidden_cosine{*this, "hidden_cosine", "weight of the cosine distance between mapped layers' hidden "
                                                       "states", 0.0};
  Option<std::string> hidden_layers{*this, "hidden_layers", "hidden-state layer pairs STUDENT:TEACHER,... (auto: each "
                                                            "student layer with the teacher layer as deep in proportion)",
                                    "auto"};
  Option<int64_t> heldout{*this, "heldout", "data sequences held out of training to measure perplexity", 4};
  Option<int64_t> generate{*this, "generate",
                           "sequences the teacher samples from BOS (temperature 1, seeded) to train on besides the data "
                           "(held-out sequences stay data)",
                           0};
  Option<int64_t> eval_every{*this, "eval_every", "held-out perplexity every K steps (0: only first and last)", 0};
  Option<std::string> checkpoint_dir{*this, "checkpoint_dir", "directory for checkpoints (\"\": none)", ""};
  Option<int64_t> checkpoint_every{*this, "checkpoint_every", "checkpoint every K steps (0: only at the end)", 0};
  Option<std::string> resume{*this, "resume", "continue the run saved in this checkpoint directory", ""};
  Option<bool> qat{*this, "qat", "train a quantized student through its grid (latent weights, learned scales, "
                                 "straight-through rounding); it stays quantized", false};
  Option<std::string> teacher_cache{*this, "teacher_cache",
                                    "HDF5 file of the teacher's top-k next-token distributions: made by the first run, "
                                    "reused (no teacher forward per step) by runs with the same teacher, data and k",
                                    ""};
  Option<int64_t> teacher_top_k{*this, "teacher_top_k", "tokens per position kept in the teacher cache", 64};
  Option<int64_t> stop_after{*this, "stop_after", "end after this step with a checkpoint, to resume later (0: run all "
                                                  "steps)", 0};

  DistillOptions distillOptions(uint64_t seed) const;

  PassTraits traits() const override;
  void validateOptions() const override;
  std::string withoutCalibration() const override;
  std::string withQuantizedWeights() const override { return "train through the grid: qat=true (slmc distill --qat)"; }
  PassResult run(Model& model, PassContext& context) override;
};

}  // namespace slmc
