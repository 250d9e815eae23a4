// bench_distill: distillation's training throughput against a bare LibTorch loop on the same
// shapes (issue 16's target: the trainer's tokens/s >= 50% of the bare loop's). Both run the
// reference decoder over autograd leaves (passes/distill/distill_torch.h) on the stories15M-shaped
// model (random weights and ids: timing does not depend on the values):
//   bare     student forward + cross-entropy + backward, nothing else;
//   distill  distillModel(): teacher forward (no grad) + student forward + KL + backward + global
//            norm clip + AdamW, i.e. what `slmc distill` runs per step.
// Prints tokens/s of each and the ratio, and peak RSS; asserts nothing.
//
// Usage: bench_distill [--steps N] [--batch B] [--seq S] [--threads T] [--bf16 1]
// (--bf16 1: both under bfloat16 autocast, the trainer with DistillOptions::bf16.)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "passes/distill/distill_torch.h"
#include "passes/distill/distill_trainer.h"

using namespace slmc;

namespace {

double peakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 6, batch = 4, seq = 256;
  int threads = 0;
  bool bf16 = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int64_t v = std::atoll(argv[i + 1]);
    if (a == "--steps") steps = v;
    else if (a == "--batch") batch = v;
    else if (a == "--seq") seq = v;
    else if (a == "--threads") threads = static_cast<int>(v);
    else if (a == "--bf16") bf16 = v != 0;
  }
  if (threads > 0) at::set_num_threads(threads);
  const Model model = bench::stories15MShaped();
  const ModelConfig& c = model.config;
  std::mt19937 rng(7);
  const int64_t sequences = (steps + 1) * batch + 4;  // + held-out
  DistillData data;
  data.seq_len = seq;
  data.num_sequences = sequences;
  for (int64_t i = 0; i < sequences * seq; ++i) data.ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
  std::printf("stories15M-shaped model (%.1fM parameters), batch %lld x %lld tokens, %lld steps, %d threads, %s\n",
              static_cast<double>(bench::parameterCount(model)) / 1e6, static_cast<long long>(batch),
              static_cast<long long>(seq), static_cast<long long>(steps), at::get_num_threads(),
              bf16 ? "bf16 autocast" : "float32");

  // Bare loop: forward, cross-entropy, backward; one warm-up step first.
  distill::TrainableStudent s = distill::makeTrainableStudent(model);
  double bare_seconds = 0;
  for (int64_t step = 0; step <= steps; ++step) {
    const std::vector<int32_t> ids(data.ids.begin() + step * batch * seq, data.ids.begin() + (step + 1) * batch * seq);
    const auto t0 = std::chrono::steady_clock::now();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(bf16);
    const at::Tensor logits = distill::decoderLogits(c, s.bind(), ids, batch, seq).to(at::kFloat);
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
    const at::Tensor targets =
        at::from_blob(const_cast<int32_t*>(ids.data()), {batch, seq}, at::kInt).narrow(1, 1, seq - 1).to(at::kLong);
    const at::Tensor loss = at::cross_entropy_loss(logits.narrow(1, 0, seq - 1).reshape({-1, c.vocab_size}),
                                                   targets.reshape({-1}));
    loss.backward();
    for (auto& [name, p] : s.parameters)
      if (p.grad().defined()) p.mutable_grad().zero_();
    if (step > 0) bare_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double bare = static_cast<double>(steps * batch * seq) / bare_seconds;

  // The trainer: a 1-step warm-up run, then the measured run.
  DistillOptions o;
  o.batch = batch;
  o.heldout = 4;
  o.lr = 1e-4;
  o.warmup = 0;
  o.steps = 1;
  o.bf16 = bf16;
  Model warm = model;
  distillModel(warm, model, data, o);
  o.steps = steps;
  Model student = model;
  const DistillOutcome out = distillModel(student, model, data, o);
  std::printf("bare forward + backward   %8.0f tokens/s\n", bare);
  std::printf("distill step (teacher, KL, clip, AdamW)  %8.0f tokens/s  (%.0f%% of the bare loop; target >= 50%%)\n",
              out.tokens_per_second, 100.0 * out.tokens_per_second / bare);
  std::printf("peak RSS %.0f MiB\n", peakRssMiB());
  return 0;
}
