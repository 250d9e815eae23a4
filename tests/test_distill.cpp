// Distillation (passes/distill) on the real stories260K: the trained forward is the reference
// forward, the losses equal the formulas computed here from the reference logits, a distilled
// pruned student beats the pruned one on held-out text, an interrupted and resumed run ends with
// the same bytes as an uninterrupted one, and bad input ends in one clear error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "lib/model/random_model.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "passes/builtin_passes.h"
#include "passes/distill/distill_memory.h"
#include "passes/distill/distill_trainer.h"
#include "passes/distill/lr_schedule.h"
#include "passes/prune/structured_prune.h"
#include "passes/quantize/quantize_model.h"
#include "tests/sampled_ids.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {

DistillData sampled(int64_t n, int64_t len, uint64_t seed) {
  return DistillData{sampledFromBos(stories260KModel(), n, len, seed), n, len};
}

// stories260K with 30% of its MLP channels removed, chosen on `data`.
Model prunedStories(const DistillData& data, double ffn = 0.3, int64_t layers = 0) {
  Model m = stories260KModel();
  StructuredPruneOptions o;
  o.ffn = ffn;
  o.layers = layers;
  LayerwiseOptions forward;
  forward.sample_rows = 0;
  structuredPrune(m, o, data.ids, data.num_sequences, data.seq_len, forward);
  return m;
}

DistillOptions quick(int64_t steps) {
  DistillOptions o;
  o.steps = steps;
  o.batch = 4;
  o.heldout = 4;
  o.lr = 3e-3;
  o.warmup = 2;
  return o;
}

// `count` copies of the one sequence of `one`: every batch is that row repeated, so a step's
// losses can be checked against one reference forward.
DistillData repeated(const DistillData& one, int64_t count) {
  DistillData data{{}, count, one.seq_len};
  for (int64_t i = 0; i < count; ++i) data.ids.insert(data.ids.end(), one.ids.begin(), one.ids.end());
  return data;
}

// The recovery setting the quality-order tests share: stories260K with 30% of its MLP channels
// and one layer pruned (chosen on 68 training sequences of 128), 16 held-out sequences to score.
struct RecoveryCase {
  DistillData data = sampled(68, 128, 21);
  std::vector<int32_t> eval = sampledFromBos(stories260KModel(), 16, 128, 22);
  Model pruned = prunedStories(data, 0.3, 1);

  double perplexity(const Model& m) const {
    PerplexityOptions p;
    p.ctx = 128;
    return evaluatePerplexity(ReferenceModel(m), eval, p).perplexity;
  }
  // quick(steps) at 8 sequences per step.
  static DistillOptions options(int64_t steps) {
    DistillOptions o = quick(steps);
    o.batch = 8;
    return o;
  }
};

bool sameBytes(const Model& a, const Model& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    const Tensor* u = b.tensors.find(name);
    if (!u || u->shape() != t.shape() || u->toFloats() != t.toFloats()) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("distill: warmup then cosine from lr to lr x final fraction") {
  CHECK(warmupCosineLr(0, 100, 10, 1e-3, 0.1) == doctest::Approx(1e-4));
  CHECK(warmupCosineLr(9, 100, 10, 1e-3, 0.1) == doctest::Approx(1e-3));
  CHECK(warmupCosineLr(10, 100, 10, 1e-3, 0.1) == doctest::Approx(1e-3));
  CHECK(warmupCosineLr(99, 100, 10, 1e-3, 0.1) == doctest::Approx(1e-4));
  // Halfway through the decay: the midpoint of lr and the floor.
  CHECK(warmupCosineLr(54, 100, 10, 1e-3, 0.1) == doctest::Approx(5.5e-4).epsilon(0.02));
  CHECK(warmupCosineLr(0, 5, 0, 1e-3, 0.0) == doctest::Approx(1e-3));
}

TEST_CASE("distill: a student equal to its teacher starts at zero KL: the trained forward is the reference forward") {
  const DistillData data = sampled(12, 64, 31);
  Model student = stories260KModel();
  const DistillOutcome out = distillModel(student, stories260KModel(), data, quick(2));
  REQUIRE(out.curve.size() == 2);
  // The autograd forward computes the reference forward's logits up to float rounding (the
  // gradient pass stores copies where inference adds in place): KL and gradients ~0.
  CHECK(std::abs(out.curve[0].forward_kl) < 1e-7);
  CHECK(out.curve[0].grad_norm < 1e-4);
  REQUIRE(out.evals.size() == 2);
  CHECK(out.evals[0].perplexity == out.teacher_perplexity);
  // The held-out perplexity is the reference model's on the last 4 sequences.
  const std::vector<int32_t> heldout(data.ids.end() - 4 * 64, data.ids.end());
  const std::vector<float> nll = ReferenceModel(stories260KModel()).nextTokenNll(heldout, 4, 64);
  double sum = 0;
  for (float v : nll) sum += v;
  CHECK(out.teacher_perplexity == doctest::Approx(std::exp(sum / static_cast<double>(nll.size()))).epsilon(1e-5));
}

TEST_CASE("distill: forward KL (x T^2), reverse KL and cross-entropy equal the formulas on the reference logits") {
  // Every sequence the same row: the first step's batch is that row 4 times.
  const DistillData one = sampled(1, 64, 32);
  const DistillData data = repeated(one, 8);
  Model student = prunedStories(data);
  const Model before = student;
  DistillOptions o = quick(1);
  o.loss = {1.0, 0.5, 0.25, 2.0};
  const DistillOutcome out = distillModel(student, stories260KModel(), data, o);

  const int64_t S = 64, V = 512;
  const Tensor zt = ReferenceModel(stories260KModel()).logits(one.ids, 1, S), zs = ReferenceModel(before).logits(one.ids, 1, S);
  const std::vector<float> t = zt.toFloats(), s = zs.toFloats();
  const double T = 2.0;
  double fkl = 0, rkl = 0, ce = 0;
  for (int64_t p = 0; p < S; ++p) {
    const auto logSoftmax = [&](const std::vector<float>& z, double temp) {
      std::vector<double> out(V);
      double mx = -1e300, sum = 0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, z[p * V + v] / temp);
      for (int64_t v = 0; v < V; ++v) sum += std::exp(z[p * V + v] / temp - mx);
      for (int64_t v = 0; v < V; ++v) out[v] = z[p * V + v] / temp - mx - std::log(sum);
      return out;
    };
    const std::vector<double> lt = logSoftmax(t, T), ls = logSoftmax(s, T), ls1 = logSoftmax(s, 1.0);
    for (int64_t v = 0; v < V; ++v) {
      fkl += std::exp(lt[v]) * (lt[v] - ls[v]);
      rkl += std::exp(ls[v]) * (ls[v] - lt[v]);
    }
    if (p + 1 < S) ce -= ls1[one.ids[p + 1]];
  }
  fkl = T * T * fkl / S;
  rkl = T * T * rkl / S;
  ce /= S - 1;
  REQUIRE(out.curve.size() == 1);
  CHECK(out.curve[0].forward_kl == doctest::Approx(fkl).epsilon(1e-4));
  CHECK(out.curve[0].reverse_kl == doctest::Approx(rkl).epsilon(1e-4));
  CHECK(out.curve[0].cross_entropy == doctest::Approx(ce).epsilon(1e-4));
  CHECK(out.curve[0].loss == doctest::Approx(fkl + 0.5 * rkl + 0.25 * ce).epsilon(1e-4));
  CHECK(fkl > 0.01);
  CHECK_FALSE(sameBytes(student, before));
}

TEST_CASE("distill teacher cache: forward KL over the top k plus the rest equals the formula on the reference logits") {
  ScratchDir dir("distill-topk-formula");
  const DistillData one = sampled(1, 64, 32);
  const DistillData data = repeated(one, 8);
  Model student = prunedStories(data);
  const Model before = student;
  DistillOptions o = quick(1);
  o.loss = {1.0, 0.0, 0.0, 2.0};
  o.teacher_cache = dir / "teacher.h5";
  o.teacher_top_k = 8;
  const DistillOutcome out = distillModel(student, stories260KModel(), data, o);

  const int64_t S = 64, V = 512, K = 8;
  const std::vector<float> t = ReferenceModel(stories260KModel()).logits(one.ids, 1, S).toFloats();
  const std::vector<float> s = ReferenceModel(before).logits(one.ids, 1, S).toFloats();
  const double T = 2.0;
  double fkl = 0;
  for (int64_t p = 0; p < S; ++p) {
    const auto softmax = [&](const std::vector<float>& z) {
      std::vector<double> out(V);
      double mx = -1e300, sum = 0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, z[p * V + v] / T);
      for (int64_t v = 0; v < V; ++v) sum += out[v] = std::exp(z[p * V + v] / T - mx);
      for (double& x : out) x /= sum;
      return out;
    };
    const std::vector<double> pt = softmax(t), ps = softmax(s);
    std::vector<int64_t> order(V);
    for (int64_t v = 0; v < V; ++v) order[v] = v;
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int64_t a, int64_t b) { return pt[a] > pt[b]; });
    double t_rest = 1, s_rest = 1;
    for (int64_t i = 0; i < K; ++i) {
      const int64_t v = order[i];
      fkl += pt[v] * std::log(pt[v] / ps[v]);
      t_rest -= pt[v];
      s_rest -= ps[v];
    }
    fkl += t_rest * std::log(t_rest / s_rest);
  }
  fkl = T * T * fkl / S;
  REQUIRE(out.curve.size() == 1);
  CHECK(out.curve[0].forward_kl == doctest::Approx(fkl).epsilon(1e-3));
  CHECK(fkl > 0.01);
}

TEST_CASE("distill: on stories260K a distilled pruned student beats the pruned student on held-out text") {
  const RecoveryCase c;
  Model student = c.pruned;
  const double teacher = c.perplexity(stories260KModel()), pruned = c.perplexity(student);
  const DistillOutcome out = distillModel(student, stories260KModel(), c.data, RecoveryCase::options(40));
  const double distilled = c.perplexity(student);
  MESSAGE("teacher " << teacher << ", pruned " << pruned << ", distilled " << distilled);
  CHECK(teacher < distilled);
  CHECK(distilled < pruned);
  CHECK(out.evals.back().perplexity < out.evals.front().perplexity);
  CHECK(out.curve.back().loss < out.curve.front().loss);
}

TEST_CASE("distill: a run stopped at a checkpoint and resumed ends with the same bytes as one run") {
  ScratchDir dir("distill-resume");
  const DistillData data = sampled(24, 64, 33);
  const Model pruned = prunedStories(data);
  DistillOptions o = quick(6);
  o.accumulation = 2;
  o.batch = 2;
  o.checkpoint_every = 2;

  Model whole = pruned;
  o.checkpoint_dir = dir / "whole";
  const DistillOutcome a = distillModel(whole, stories260KModel(), data, o);

  Model first = pruned;
  o.checkpoint_dir = dir / "parts";
  o.stop_after = 3;
  const DistillOutcome b1 = distillModel(first, stories260KModel(), data, o);
  CHECK(b1.steps_done == 3);
  CHECK(readJson(dir / "parts/state.json")["step"] == 3);
  Model second = pruned;  // a fresh process would start from the same pruned student
  o.stop_after = 0;
  o.resume = dir / "parts";
  const DistillOutcome b2 = distillModel(second, stories260KModel(), data, o);
  CHECK(b2.resumed_from == 3);
  CHECK(b2.steps_done == 6);
  CHECK(sameBytes(whole, second));
  REQUIRE(b2.curve.size() == a.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) CHECK(b2.curve[i].loss == a.curve[i].loss);
  CHECK(readJson(dir / "parts/state.json")["step"] == 6);
  CHECK_FALSE(fs::exists(dir / "parts.tmp"));

  // Another run's checkpoint is refused naming the field that differs.
  o.batch = 4;
  o.accumulation = 1;
  Model other = pruned;
  checkError(errorOf([&] { distillModel(other, stories260KModel(), data, o); }),
             "checkpoint '" + dir / "parts" + "' belongs to another run: its accumulation is 2, this run's is 1");
  o.resume = dir / "nowhere";
  checkError(errorOf([&] { distillModel(other, stories260KModel(), data, o); }), "does not exist");
}

TEST_CASE("distill: bad input is one clear error before any training") {
  const DistillData data = sampled(6, 64, 34);
  Model student = stories260KModel();
  Model tiny = randomModel(tinyLlamaConfig(), 1);
  checkError(errorOf([&] { distillModel(tiny, stories260KModel(), data, quick(1)); }),
             "teacher and student have different vocabularies (512 vs 64 tokens)");
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, quick(1)); }),
             "too little data for one distillation step: 6 sequences of 64 tokens, 4 held out, leave 2 for training "
             "but one step takes batch x accumulation = 4");
  CHECK(sameBytes(student, stories260KModel()));
}

TEST_CASE("distill: a loss that turns NaN stops the run naming the step and keeps the last checkpoint") {
  ScratchDir dir("distill-nan");
  const DistillData data = sampled(12, 64, 35);
  Model student = prunedStories(data);
  DistillOptions o = quick(5);
  o.lr = 1e18;
  o.warmup = 0;
  o.clip = 0;
  o.checkpoint_every = 1;
  o.checkpoint_dir = dir / "ckpt";
  const std::string err = errorOf([&] { distillModel(student, stories260KModel(), data, o); });
  checkError(err, "distillation loss is NaN at step 2");
  checkError(err, "the last good checkpoint '" + dir / "ckpt" + "' is kept");
  CHECK(readJson(dir / "ckpt/state.json")["step"] == 1);
}

TEST_CASE("cli distill: a student cut from stories260K, distilled, is a model every command loads") {
  ScratchDir dir("cli-distill");
  const GeneratedStoriesData d("cli-distill-data", 24, 8, 64);
  const std::string flags = " --data " + d.calib + " --samples 24 --seq-len 64 --eval-data " + d.eval + " --eval-ctx 64";
  const CommandResult r = runSlmc("-q distill --student-from " + stories260K() + " --prune-ffn 0.3" + flags +
                                  " --steps 8 --batch 4 --lr 1e-3 --warmup 2 --eval-every 4 -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  CHECK(report["command"] == "distill");
  CHECK(report["pipeline"] == "prune_structured(ffn=0.3),distill(steps=8,batch=4,lr=1e-3,warmup=2,eval_every=4)");
  const nlohmann::json& figures = report["passes"][1]["figures"];
  CHECK(figures["loss_curve"].size() == 8);
  CHECK(figures["heldout_perplexity"].size() == 3);  // steps 0, 4 and 8
  // (The quality order is asserted on a longer run above; 8 steps on 20 sequences only show the loop runs.)
  for (const auto& row : figures["loss_curve"]) CHECK(std::isfinite(row["loss"].get<double>()));
  const std::string md = readFile(dir / "out/slmc_report.md");
  // The loss curve is a real table (lib/report/markdown_table.h), one row per step.
  const size_t curve = md.find("**loss_curve**\n\n| ");
  REQUIRE(curve != std::string::npos);
  const std::string header = md.substr(curve + 16, md.find('\n', curve + 16) - curve - 16);
  for (const char* column : {"step", "loss", "forward_kl", "reverse_kl", "cross_entropy", "lr", "grad_norm"})
    CHECK_MESSAGE(header.find(std::string("| ") + column + " |") != std::string::npos, header);
  CHECK(runSlmc("-q eval " + dir / "out" + " --data " + d.eval + " --ctx 64").exit_code == 0);
  CHECK(runSlmc("-q export " + dir / "out" + " --format pack -o " + dir / "m.slmc").exit_code == 0);

  // Too little data for one step: one line, exit 1, no output.
  expectError(runSlmc("-q distill --student-from " + stories260K() + " --drop-layers 1 --data " + d.calib +
                      " --samples 6 --seq-len 64 --steps 2 -o " + dir / "bad"),
              "too little data for one distillation step");
  CHECK_FALSE(fs::exists(dir / "bad"));
  // The same 6 samples with 4 sequences the teacher samples itself: 2 + 4 training sequences, a step's batch.
  const CommandResult generated = runSlmc("-q distill --student-from " + stories260K() + " --drop-layers 1 --data " +
                                          d.calib + " --samples 6 --seq-len 64 --steps 2 --batch 4 --generate 4 -o " +
                                          dir / "generated");
  REQUIRE_MESSAGE(generated.exit_code == 0, generated.err);
  const nlohmann::json with_generated = readJson(dir / "generated/slmc_report.json")["passes"][1];
  CHECK(with_generated["figures"]["teacher_generated_sequences"] == 4);
  CHECK(with_generated["summary"].get<std::string>().find("4 training sequences sampled from the teacher") !=
        std::string::npos);
  expectError(runSlmc("-q distill --student-from " + stories260K() + " --data " + d.calib + " -o " + dir / "bad"),
              "--student-from needs --drop-layers, --prune-heads and/or --prune-ffn");
  expectError(runSlmc("-q distill --student " + stories260K() + " --data " + d.calib + " -o " + dir / "bad"),
              "--student needs --teacher");
}

TEST_CASE("distill: configs/distill-shrunk.yaml is a pipeline slmc builds: prune_structured, then distill") {
  const Recipe r = parseRecipeFile(std::string(SLMC_SOURCE_DIR) + "/configs/distill-shrunk.yaml");
  PassRegistry registry;
  registerBuiltinPasses(registry);
  PassManager manager(registry);
  manager.build(r.passes);
  REQUIRE(manager.size() == 2);
  CHECK(manager.pass(0).argument() == "prune_structured");
  CHECK(manager.pass(1).argument() == "distill");
  CHECK(manager.pass(1).optionsJson()["steps"] == 24);
}

TEST_CASE("distill: configs/q3-qat.yaml and q2-qat.yaml are q3 and q2, then distillation through the grid") {
  for (const char* name : {"q3", "q2"}) {
    CAPTURE(name);
    const std::string dir = std::string(SLMC_SOURCE_DIR) + "/configs/";
    const Recipe qat = parseRecipeFile(dir + name + "-qat.yaml"), plain = parseRecipeFile(dir + name + ".yaml");
    PassRegistry registry;
    registerBuiltinPasses(registry);
    PassManager manager(registry), reference(registry);
    manager.build(qat.passes);  // a distill pass without qat=true after quantize would be refused here
    reference.build(plain.passes);
    REQUIRE(manager.size() == 3);
    CHECK(manager.pass(0).argument() == "gptq");  // quantize(method=gptq) builds the gptq pass
    // The same quantization as the recipe without training, so that the two compare.
    CHECK(manager.pass(0).optionsJson() == reference.pass(0).optionsJson());
    CHECK(manager.pass(1).argument() == "distill");
    CHECK(manager.pass(1).optionsJson()["qat"] == true);
    CHECK(manager.pass(2).argument() == "export");
  }
}

TEST_CASE("distill: the memory a run needs is checked before it starts, against what the machine has") {
  // SmolLM2-135M, QAT at 4 x 256 (the README's run): the lower bound sits under the measured
  // 9.3 GiB peak RSS and above half of it.
  const Model smollm2 = loadModel(realFile(modelsDir() + "/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
                                           "SLMC_MODELS"));
  const DistillMemoryEstimate qat = estimateDistillMemory(smollm2, smollm2, 4, 256, true);
  const double gib = 1024.0 * 1024.0 * 1024.0, measured_peak = 9.3 * gib;
  MESSAGE("SmolLM2 QAT 4 x 256: at least " << qat.total() / gib << " GiB (measured peak RSS 9.3 GiB)");
  CHECK(static_cast<double>(qat.total()) < measured_peak);
  CHECK(static_cast<double>(qat.total()) > 0.5 * measured_peak);
  // Longer sequences cost more than their tokens (attention is quadratic); QAT keeps one more copy.
  CHECK(estimateDistillMemory(smollm2, smollm2, 2, 512, true).activations > qat.activations);
  CHECK(estimateDistillMemory(smollm2, smollm2, 4, 256, false).student < qat.student);
  CHECK_NOTHROW(requireDistillMemory(qat, -1, 4, 256));  // unknown: no refusal
  CHECK_NOTHROW(requireDistillMemory(qat, qat.total(), 4, 256));
  checkError(errorOf([&] { requireDistillMemory(qat, qat.total() - 1, 4, 256); }),
             "for micro-batches of 4 x 256 tokens");

  // The command on a machine that plays 1 MiB: one line, exit 1, nothing written, before any step.
  ScratchDir dir("distill-memory");
  const GeneratedStoriesData d("distill-memory-data", 24, 8, 64);
  setenv("SLMC_MEMORY_AVAILABLE", "1048576", 1);
  const CommandResult r = runSlmc("-q distill --student-from " + stories260K() + " --drop-layers 1 --data " + d.calib +
                                  " --samples 24 --seq-len 64 --steps 2 -o " + dir / "out");
  unsetenv("SLMC_MEMORY_AVAILABLE");
  expectError(r, "but 0.0 GiB is available: lower --batch");
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(availableMemoryBytes() > 0);  // this machine's own figure, read from /proc/meminfo
}

TEST_CASE("distill teacher cache: at k = vocabulary it trains as the teacher itself, and a reuse repeats the run") {
  ScratchDir dir("distill-teacher-cache");
  const DistillData data = sampled(24, 64, 36);
  const Model pruned = prunedStories(data);
  const DistillOptions plain = quick(6);
  Model direct = pruned;
  const DistillOutcome a = distillModel(direct, stories260KModel(), data, plain);

  DistillOptions cached = plain;
  cached.teacher_cache = dir / "teacher.h5";
  cached.teacher_top_k = stories260KModel().config.vocab_size;  // 512: the whole distribution
  Model first = pruned;
  const DistillOutcome b = distillModel(first, stories260KModel(), data, cached);
  CHECK(b.teacher_cache["read"] == false);
  CHECK(b.teacher_cache["sequences"] == 24);
  REQUIRE(fs::exists(dir / "teacher.h5"));
  REQUIRE(b.curve.size() == a.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    CHECK(b.curve[i].loss == doctest::Approx(a.curve[i].loss).epsilon(1e-4));
    CHECK(b.curve[i].forward_kl == doctest::Approx(a.curve[i].forward_kl).epsilon(1e-4));
  }
  CHECK(b.teacher_perplexity == a.teacher_perplexity);

  // The second run reads the file: no teacher pass, the same arithmetic, the same bytes.
  Model second = pruned;
  const DistillOutcome c = distillModel(second, stories260KModel(), data, cached);
  CHECK(c.teacher_cache["read"] == true);
  CHECK(sameBytes(first, second));

  // Teacher-generated sequences are in the cache: a reuse trains on them without sampling again.
  DistillOptions generated = cached;
  generated.generate = 4;
  generated.teacher_cache = dir / "generated.h5";
  Model g1 = pruned, g2 = pruned;
  distillModel(g1, stories260KModel(), data, generated);
  const DistillOutcome g = distillModel(g2, stories260KModel(), data, generated);
  CHECK(g.teacher_cache["read"] == true);
  CHECK(g.teacher_cache["sequences"] == 28);
  CHECK(sameBytes(g1, g2));
}

TEST_CASE("distill teacher cache: top-16 of 512 still wins back quality on stories260K") {
  ScratchDir dir("distill-teacher-top16");
  const RecoveryCase c;
  Model student = c.pruned;
  const double pruned = c.perplexity(student);
  DistillOptions o = RecoveryCase::options(40);
  o.teacher_cache = dir / "teacher.h5";
  o.teacher_top_k = 16;
  distillModel(student, stories260KModel(), c.data, o);
  const double distilled = c.perplexity(student);
  MESSAGE("pruned " << pruned << ", distilled from the top-16 cache " << distilled);
  CHECK(distilled < 0.5 * pruned);
}

TEST_CASE("distill teacher cache: a cache of another run, a damaged file and reverse KL are one clear error") {
  ScratchDir dir("distill-teacher-cache-bad");
  const DistillData data = sampled(12, 64, 37);
  const Model pruned = prunedStories(data);
  DistillOptions o = quick(1);
  o.teacher_cache = dir / "teacher.h5";
  o.teacher_top_k = 8;
  Model student = pruned;
  distillModel(student, stories260KModel(), data, o);

  const DistillData other = sampled(12, 64, 38);
  Model s2 = pruned;
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), other, o); }),
             "teacher cache '" + dir / "teacher.h5" + "' was made for another run: its data_crc32c is");
  o.teacher_top_k = 4;
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), data, o); }), "its k is 8, this run's is 4");
  o.teacher_top_k = 8;
  o.loss.reverse_kl = 1;
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), data, o); }),
             "reverse KL needs the teacher's whole distribution, and the teacher cache keeps its top 8 tokens");
  o.loss.reverse_kl = 0;
  o.teacher_top_k = 600;
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), data, o); }),
             "teacher_top_k=600 must be between 1 and the vocabulary's 512 tokens");
  o.teacher_top_k = 8;
  {
    const std::string whole = readFile(dir / "teacher.h5");
    std::ofstream(dir / "cut.h5", std::ios::binary).write(whole.data(), 2048);
    std::ofstream(dir / "text.h5") << "not hdf5";
  }
  o.teacher_cache = dir / "cut.h5";
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), data, o); }), "cannot open the teacher cache");
  o.teacher_cache = dir / "text.h5";
  checkError(errorOf([&] { distillModel(s2, stories260KModel(), data, o); }), "not an HDF5 file, so not a teacher cache");
  CHECK(sameBytes(s2, pruned));
}

TEST_CASE("distill hidden states: layer pairs auto and given, and the bad maps") {
  // (Pairs via the trainer's checks: a student of 3 layers from a teacher of 5.)
  const DistillData data = sampled(12, 64, 39);
  Model student = prunedStories(data, 0.3, 2);
  REQUIRE(student.config.num_layers == 3);
  DistillOptions o = quick(1);
  o.loss.hidden_cosine = 1;
  o.hidden_layers = "0:0,3:4";
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, o); }),
             "hidden_layers '0:0,3:4': student layer 3 does not exist (the student has 3 layers, 0 to 2)");
  o.hidden_layers = "0:5";
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, o); }),
             "teacher layer 5 does not exist (the teacher has 5 layers, 0 to 4)");
  o.hidden_layers = "1:1,1:2";
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, o); }), "student layer 1 is mapped twice");
  o.hidden_layers = "first";
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, o); }), "'first' is not STUDENT:TEACHER");
  o.hidden_layers = "auto";
  o.teacher_cache = "unused.h5";
  checkError(errorOf([&] { distillModel(student, stories260KModel(), data, o); }),
             "hidden-state losses need the teacher's layers");
  CHECK_FALSE(fs::exists("unused.h5"));
}

TEST_CASE("distill hidden states: the cosine and MSE terms fall, and alone they win back quality on stories260K") {
  const RecoveryCase c;
  Model student = c.pruned;
  const double pruned = c.perplexity(student);
  DistillOptions o = RecoveryCase::options(30);
  o.loss.forward_kl = 0;
  o.loss.hidden_mse = 1;
  o.loss.hidden_cosine = 1;
  const DistillOutcome out = distillModel(student, stories260KModel(), c.data, o);
  const double distilled = c.perplexity(student);
  MESSAGE("pruned " << pruned << ", hidden states only " << distilled << "; cosine " << out.curve.front().hidden_cosine
                    << " -> " << out.curve.back().hidden_cosine << ", mse " << out.curve.front().hidden_mse << " -> "
                    << out.curve.back().hidden_mse);
  CHECK(out.curve.back().hidden_cosine < 0.8 * out.curve.front().hidden_cosine);
  CHECK(out.curve.back().hidden_mse < 0.8 * out.curve.front().hidden_mse);
  CHECK(distilled < pruned);
}

TEST_CASE("distill hidden states: a narrower student learns through projections, which checkpoints keep") {
  ScratchDir dir("distill-hidden-projection");
  const DistillData data = sampled(24, 64, 40);
  ModelConfig narrow = stories260KModel().config;
  narrow.hidden_size = 32;
  narrow.num_heads = 4;
  narrow.num_kv_heads = 2;
  narrow.head_dim = 8;
  narrow.num_layers = 2;
  const Model start = randomModel(narrow, 3);
  DistillOptions o = quick(6);
  o.loss.hidden_mse = 1;
  o.checkpoint_dir = dir / "whole";
  Model whole = start;
  const DistillOutcome a = distillModel(whole, stories260KModel(), data, o);
  CHECK(a.curve.back().hidden_mse < a.curve.front().hidden_mse);
  // The projections ([64, 32] per pair) are trained and checkpointed, never written into the model.
  const std::string weights = readFile(dir / "whole/student.safetensors");
  CHECK(weights.find("distill.hidden_projection.0") != std::string::npos);
  CHECK(weights.find("distill.hidden_projection.1") != std::string::npos);
  for (const auto& [name, t] : whole.tensors) CHECK(name.find("hidden_projection") == std::string::npos);
  // Stopped and resumed, projections included: the same bytes as one run.
  o.checkpoint_dir = dir / "parts";
  o.stop_after = 3;
  Model first = start;
  distillModel(first, stories260KModel(), data, o);
  o.stop_after = 0;
  o.resume = dir / "parts";
  Model second = start;
  distillModel(second, stories260KModel(), data, o);
  CHECK(sameBytes(whole, second));
}

TEST_CASE("distill recompute: activation checkpointing trains the same student, and the estimate counts less memory") {
  const DistillData data = sampled(24, 64, 41);
  const Model pruned = prunedStories(data);
  for (const bool qat : {false, true}) {
    CAPTURE(qat);
    Model start = pruned;
    if (qat) {
      QuantizeOptions q;
      q.scheme = QuantScheme(4, 32, false);
      quantizeModel(start, q, data.ids, data.num_sequences, data.seq_len, LayerwiseCalibrationOptions{});
    }
    DistillOptions o = quick(4);
    o.qat = qat;
    // Float: the layers' outputs also feed the hidden-state term. (Not with QAT: there the two
    // gradients a layer output receives are summed in another order, and an ulp of difference in
    // a near-zero gradient is a whole lr step in AdamW's first update, then a code flipped.)
    if (!qat) o.loss.hidden_cosine = 0.5;
    Model kept = start, recomputed = start;
    const DistillOutcome a = distillModel(kept, stories260KModel(), data, o);
    o.recompute = true;
    const DistillOutcome b = distillModel(recomputed, stories260KModel(), data, o);
    REQUIRE(a.curve.size() == b.curve.size());
    for (size_t i = 0; i < a.curve.size(); ++i) {
      CHECK(b.curve[i].loss == doctest::Approx(a.curve[i].loss).epsilon(1e-6));
      CHECK(b.curve[i].grad_norm == doctest::Approx(a.curve[i].grad_norm).epsilon(1e-5));
    }
    double worst = 0;
    for (const auto& [name, t] : kept.tensors) {
      const std::vector<float> x = t.toFloats(), y = recomputed.tensors.find(name)->toFloats();
      for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(x[i]) - y[i]));
    }
    CHECK(worst < 1e-5);
  }
  const Model smollm2 = loadModel(realFile(modelsDir() + "/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
                                           "SLMC_MODELS"));
  const DistillMemoryEstimate full = estimateDistillMemory(smollm2, smollm2, 4, 256, false);
  const DistillMemoryEstimate light = estimateDistillMemory(smollm2, smollm2, 4, 256, false, true);
  MESSAGE("SmolLM2 4 x 256 activations: " << full.activations / (1 << 20) << " MiB kept, " << light.activations / (1 << 20)
                                          << " MiB recomputed");
  CHECK(light.activations < full.activations / 2);
}

TEST_CASE("distill bf16: mixed precision follows the float32 run closely and still wins back quality") {
  const RecoveryCase c;
  DistillOptions o = RecoveryCase::options(20);
  Model f32 = c.pruned, bf16 = c.pruned;
  const DistillOutcome a = distillModel(f32, stories260KModel(), c.data, o);
  o.bf16 = true;
  o.recompute = true;  // the recomputed layers run under the same autocast
  const DistillOutcome b = distillModel(bf16, stories260KModel(), c.data, o);
  const double before = c.perplexity(c.pruned), after_f32 = c.perplexity(f32), after_bf16 = c.perplexity(bf16);
  MESSAGE("pruned " << before << ", distilled f32 " << after_f32 << ", bf16 " << after_bf16 << "; first loss "
                    << a.curve.front().loss << " vs " << b.curve.front().loss);
  CHECK(b.curve.front().loss == doctest::Approx(a.curve.front().loss).epsilon(0.02));
  CHECK(after_bf16 < 0.5 * before);
  CHECK(after_bf16 == doctest::Approx(after_f32).epsilon(0.1));
  // The output is float32 as always (the master weights never left it).
  for (const auto& [name, t] : bf16.tensors) CHECK(t.dtype() == DType::F32);
}
