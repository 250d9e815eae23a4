#include "passes/distill/distill_pass.h"

#include <cmath>
#include <cstdio>

#include "lib/format/checkpoint.h"
#include "lib/support/error.h"
#include "passes/distill/distill_trainer.h"

namespace slmc {

namespace {
std::string nonNegative(double v) { return std::isfinite(v) && v >= 0 ? std::string() : "must be a number >= 0"; }
std::string positive(double v) { return std::isfinite(v) && v > 0 ? std::string() : "must be a number > 0"; }
}  // namespace

DistillPass::DistillPass()
    : Pass("distill", "knowledge distillation from a teacher (KL on logits, optional cross-entropy), AdamW") {
  steps.range(1, int64_t{1} << 40);
  batch.range(1, 1 << 20);
  accumulation.range(1, 1 << 20);
  lr.check(positive);
  final_lr_fraction.range(0, 1);
  warmup.range(0, int64_t{1} << 40);
  weight_decay.check(nonNegative);
  clip.check(nonNegative);
  temperature.check(positive);
  kl.check(nonNegative);
  reverse_kl.check(nonNegative);
  ce.check(nonNegative);
  hidden_mse.check(nonNegative);
  hidden_cosine.check(nonNegative);
  heldout.range(1, 1 << 20);
  generate.range(0, 1 << 20);
  eval_every.range(0, int64_t{1} << 40);
  checkpoint_every.range(0, int64_t{1} << 40);
  stop_after.range(0, int64_t{1} << 40);
  teacher_top_k.range(1, 1 << 24);
}

DistillOptions DistillPass::distillOptions(uint64_t seed) const {
  DistillOptions o;
  o.loss.forward_kl = kl;
  o.loss.reverse_kl = reverse_kl;
  o.loss.cross_entropy = ce;
  o.loss.temperature = temperature;
  o.loss.hidden_mse = hidden_mse;
  o.loss.hidden_cosine = hidden_cosine;
  o.hidden_layers = hidden_layers;
  o.steps = steps;
  o.batch = batch;
  o.accumulation = accumulation;
  o.lr = lr;
  o.final_lr_fraction = final_lr_fraction;
  o.warmup = warmup;
  o.weight_decay = weight_decay;
  o.clip = clip;
  o.recompute = recompute;
  o.bf16 = bf16;
  o.heldout = heldout;
  o.generate = generate;
  o.eval_every = eval_every;
  o.checkpoint_dir = checkpoint_dir;
  o.checkpoint_every = checkpoint_every;
  o.resume = resume;
  o.stop_after = stop_after;
  o.seed = seed;
  o.qat = qat;
  o.teacher_cache = teacher_cache;
  o.teacher_top_k = teacher_top_k;
  return o;
}

PassTraits DistillPass::traits() const {
  PassTraits t;
  t.needs_calibration = true;  // the training sequences are the calibration samples
  t.needs_float_weights = !qat;  // qat trains a quantized student through its grid
  return t;
}

void DistillPass::validateOptions() const {
  require(kl > 0 || reverse_kl > 0 || ce > 0 || hidden_mse > 0 || hidden_cosine > 0,
          "pass 'distill' has every loss weight at 0: set kl, reverse_kl, ce, hidden_mse and/or hidden_cosine");
  require(stop_after <= steps, "pass 'distill': stop_after=" + std::to_string(*stop_after) + " is past steps=" +
                                   std::to_string(*steps));
  require((checkpoint_every == 0 && stop_after == 0) || !checkpoint_dir->empty() || !resume->empty(),
          "pass 'distill': checkpoint_every and stop_after need checkpoint_dir=DIR");
  require(teacher_cache->empty() || reverse_kl == 0,
          "pass 'distill': reverse_kl needs the teacher's whole distribution, and teacher_cache keeps its top "
          "teacher_top_k tokens (drop one of them)");
}

std::string DistillPass::withoutCalibration() const { return "give --data: distillation trains on it"; }

PassResult DistillPass::run(Model& model, PassContext& context) {
  Model loaded_teacher;
  const Model* teacher_model = context.original;
  if (!teacher->empty()) {
    loaded_teacher = loadModel(teacher);
    teacher_model = &loaded_teacher;
  }
  require(teacher_model != nullptr, "pass 'distill' has no teacher: give teacher=PATH");
  const CalibrationSamples& samples = context.calibration();
  const DistillData data{samples.ids, samples.num_samples, samples.seq_len};
  DistillCallbacks callbacks;
  callbacks.log = [&](const std::string& line) { context.log(line); };
  callbacks.on_generate = [&](int64_t done, int64_t total) {
    context.progress("distill: teacher generating", done, total, "");
  };
  callbacks.on_teacher_pass = [&](int64_t done, int64_t total) {
    context.progress("distill: teacher top-k cache", done, total, "");
  };
  callbacks.on_step = [&](const DistillStep& s, int64_t total, double tokens_per_second) {
    char note[128];
    std::snprintf(note, sizeof note, "loss %.4f, lr %.2e, %.0f tok/s", s.loss, s.lr, tokens_per_second);
    context.progress("distill", s.step, total, note);
  };
  DistillOptions options = distillOptions(context.seed);
  options.parallel = context.data_parallel;
  const DistillOutcome outcome = distillModel(model, *teacher_model, data, options, callbacks);
  PassResult result;
  char summary[200];
  const double first = outcome.evals.empty() ? 0 : outcome.evals.front().perplexity;
  const double last = outcome.evals.empty() ? 0 : outcome.evals.back().perplexity;
  std::snprintf(summary, sizeof summary, "%lld steps on %lld tokens: held-out perplexity %.4f -> %.4f (teacher %.4f)",
                static_cast<long long>(outcome.steps_done),
                static_cast<long long>(outcome.steps_done * outcome.tokens_per_step), first, last,
                outcome.teacher_perplexity);
  result.summary = summary;
  if (generate > 0) result.summary += " (" + std::to_string(*generate) + " training sequences sampled from the teacher)";
  if (outcome.steps_done < steps)
    result.summary += "; stopped at step " + std::to_string(outcome.steps_done) + " of " + std::to_string(*steps);
  result.figures = outcome.toJson();
  result.figures["teacher_generated_sequences"] = *generate;
  return result;
}

}  // namespace slmc
