// Teacher-student distillation on one machine: the student is the reference decoder's forward
// run under LibTorch autograd (its float32 weights as trainable leaves), the teacher the same
// forward without gradients. This header is LibTorch-free; the training loop lives in
// distill_trainer_torch.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "passes/distill/distill_options.h"

namespace slmc {

// Training sequences: [num_sequences, seq_len] row-major ids. The last `heldout` of them (see
// DistillOptions) are kept out of training and measure the student's perplexity.
struct DistillData {
  std::vector<int32_t> ids;
  int64_t num_sequences = 0;
  int64_t seq_len = 0;
};

// One optimizer step's figures (losses: means over the step's tokens, before weighting).
struct DistillStep {
  int64_t step = 0;  // 1-based
  double lr = 0;
  double loss = 0;  // the weighted sum that was minimised
  double forward_kl = 0, reverse_kl = 0, cross_entropy = 0;
  double grad_norm = 0;  // before clipping
  double hidden_mse = 0, hidden_cosine = 0;  // 0 unless the hidden-state terms are on
};
// One step as the report and checkpoints hold it ({step, lr, loss, forward_kl, …}; the hidden
// terms only when they are on) and back.
nlohmann::json stepJson(const DistillStep& step);
DistillStep stepFromJson(const nlohmann::json& j);

struct DistillEval {
  int64_t step = 0;  // 0: before training
  double perplexity = 0;
};

struct DistillOutcome {
  std::vector<DistillStep> curve;  // every step of the run, resumed runs included
  std::vector<DistillEval> evals;
  double teacher_perplexity = 0;  // on the same held-out sequences
  int64_t steps_done = 0;         // the last step reached (== steps unless stop_after stopped it)
  int64_t resumed_from = 0;       // the checkpoint's step, 0 when the run started afresh
  int64_t tokens_per_step = 0;   // over every rank
  int64_t ranks = 1;             // data-parallel processes that trained together
  // With DistillOptions::teacher_cache: {path, k, sequences, read (else written), seconds}.
  nlohmann::json teacher_cache;
  double seconds = 0;            // of this process's training loop
  double tokens_per_second = 0;  // student tokens trained per second in this process
  std::string last_checkpoint;   // "" when none was written

  // {teacher_perplexity, initial_perplexity, final_perplexity, steps, tokens_trained, …,
  //  loss_curve: [{step, lr, loss, forward_kl, …}], heldout_perplexity: [{step, perplexity}]}.
  nlohmann::json toJson() const;
};

// Per step: what a progress line shows (the step just done, the run's total, its figures and
// the tokens/s so far). `log` gets one line per held-out measurement and checkpoint.
struct DistillCallbacks {
  std::function<void(const DistillStep&, int64_t total_steps, double tokens_per_second)> on_step;
  std::function<void(const std::string&)> log;
  std::function<void(int64_t done, int64_t total)> on_generate;  // teacher sequences sampled so far
  std::function<void(int64_t done, int64_t total)> on_teacher_pass;  // sequences in the teacher cache so far
};

// Trains `student` (in place: its float weights become float32; with options.qat its quantized
// weights stay quantized on their schemes, codes and scales re-derived) to match `teacher` on
// `data`. Everything a user can get wrong is checked before the first step, each with one Error
// line: different vocabularies, a quantized student without qat (or qat without one), sequences longer than either context, too little
// data for one step, a checkpoint of another run. A loss that turns NaN or infinite stops the run
// with an Error naming the step; the last checkpoint written stays as it was.
DistillOutcome distillModel(Model& student, const Model& teacher, const DistillData& data,
                            const DistillOptions& options, const DistillCallbacks& callbacks = {});

}  // namespace slmc
