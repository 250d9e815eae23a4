// Distillation through the quantization grid (qat) on the real stories260K: the trained forward
// starts as the quantized model's and ends as the re-derived quantized model's (same schemes and
// zero points, new codes and float16 scales), it wins back held-out perplexity the grid lost, a
// resumed run repeats an uninterrupted one byte for byte, and the pass's wiring and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "lib/format/checkpoint.h"
#include "lib/model/dtype.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "passes/builtin_passes.h"
#include "passes/distill/distill_trainer.h"
#include "passes/quantize/quantize_model.h"
#include "tests/sampled_ids.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {

DistillData sampled(int64_t n, int64_t len, uint64_t seed) {
  return DistillData{sampledFromBos(stories260KModel(), n, len, seed), n, len};
}

// stories260K with every linear and the tied embedding on RTN int`bits` g32 (down_proj's 172
// columns fall back to per-channel).
Model rtnStories(int bits) {
  Model m = stories260KModel();
  QuantizeOptions o;
  o.scheme = QuantScheme(bits, 32, true);
  o.embedding = QuantScheme(bits, 32, true);
  const std::vector<int32_t> calib = sampledFromBos(m, 8, 64, 40);
  quantizeModel(m, o, calib, 8, 64, LayerwiseCalibrationOptions{});
  return m;
}

DistillOptions qat(int64_t steps) {
  DistillOptions o;
  o.steps = steps;
  o.batch = 4;
  o.heldout = 4;
  o.lr = 2e-3;
  o.warmup = 2;
  o.qat = true;
  return o;
}

// exp(mean next-token NLL) of the reference forward on the data's held-out sequences: what the
// trainer's held-out figure measures, computed without the trainer.
double heldout(const Model& m, const DistillData& data, int64_t count) {
  const std::vector<int32_t> ids(data.ids.end() - count * data.seq_len, data.ids.end());
  const std::vector<float> nll = ReferenceModel(m).nextTokenNll(ids, count, data.seq_len);
  return std::exp(std::accumulate(nll.begin(), nll.end(), 0.0) / static_cast<double>(nll.size()));
}

}  // namespace

TEST_CASE("distill qat: the trained forward is the quantized model's, before and after, and it wins back quality") {
  const DistillData data = sampled(68, 128, 41);
  const Model ptq = rtnStories(3);
  Model student = ptq;
  const DistillOutcome out = distillModel(student, stories260KModel(), data, [] {
    DistillOptions o = qat(40);
    o.batch = 8;
    return o;
  }());
  // Step 0 is measured on the fake-quantized leaves: exactly the quantized model.
  CHECK(out.evals.front().perplexity == doctest::Approx(heldout(ptq, data, 4)).epsilon(1e-5));
  // The student comes back quantized on the same schemes and zero points, its float values the
  // dequantization of the new codes, and the last measurement is that model's.
  REQUIRE(student.quantized.size() == ptq.quantized.size());
  int64_t codes_changed = 0, scales_changed = 0;
  for (const auto& [name, q] : student.quantized) {
    const QuantizedTensor& before = *ptq.quantized.at(name);
    q->validate(name);
    CHECK(q->scheme == before.scheme);
    CHECK(q->zeros == before.zeros);
    CHECK(student.tensors.at(name).toFloats() == q->dequantize().toFloats());
    for (float s : q->scales) CHECK(halfToFloat(floatToHalf(s)) == s);
    for (size_t i = 0; i < q->codes.size(); ++i) codes_changed += q->codes[i] != before.codes[i];
    for (size_t i = 0; i < q->scales.size(); ++i) scales_changed += q->scales[i] != before.scales[i];
  }
  CHECK(codes_changed > 0);
  CHECK(scales_changed > 0);
  CHECK(out.evals.back().perplexity == doctest::Approx(heldout(student, data, 4)).epsilon(1e-5));

  // Quality: on independent text, the QAT student beats the PTQ one it started from.
  const std::vector<int32_t> eval = sampledFromBos(stories260KModel(), 16, 128, 42);
  PerplexityOptions p;
  p.ctx = 128;
  const double teacher = evaluatePerplexity(ReferenceModel(stories260KModel()), eval, p).perplexity;
  const double before = evaluatePerplexity(ReferenceModel(ptq), eval, p).perplexity;
  const double after = evaluatePerplexity(ReferenceModel(student), eval, p).perplexity;
  MESSAGE("teacher " << teacher << ", RTN int3 " << before << ", after qat " << after);
  CHECK(after < before);
  CHECK(teacher < after);
}

TEST_CASE("distill qat: a run stopped at a checkpoint and resumed ends with the same codes and scales") {
  ScratchDir dir("distill-qat-resume");
  const DistillData data = sampled(16, 64, 43);
  const Model ptq = rtnStories(4);
  DistillOptions o = qat(4);
  o.batch = 2;
  o.checkpoint_every = 2;
  Model whole = ptq;
  o.checkpoint_dir = dir / "whole";
  distillModel(whole, stories260KModel(), data, o);

  Model first = ptq, second = ptq;
  o.checkpoint_dir = dir / "parts";
  o.stop_after = 1;
  distillModel(first, stories260KModel(), data, o);
  o.stop_after = 0;
  o.resume = dir / "parts";
  const DistillOutcome resumed = distillModel(second, stories260KModel(), data, o);
  CHECK(resumed.resumed_from == 1);
  for (const auto& [name, q] : whole.quantized) {
    CHECK(second.quantized.at(name)->codes == q->codes);
    CHECK(second.quantized.at(name)->scales == q->scales);
  }
  for (const auto& [name, t] : whole.tensors) CHECK(second.tensors.at(name).toFloats() == t.toFloats());
}

TEST_CASE("distill qat: a sparse quantized student keeps its zeros on the zero point") {
  const DistillData data = sampled(12, 64, 44);
  Model m = stories260KModel();
  const std::string name = "model.layers.0.mlp.up_proj.weight";
  std::vector<float> w = m.tensors.at(name).toFloats();
  for (size_t i = 0; i < w.size(); i += 2) w[i] = 0;  // every other weight pruned
  m.tensors.set(name, Tensor::fromFloats(m.tensors.at(name).shape(), w));
  m.sparsity[name] = SparsityInfo{0, 0, 0.5, "magnitude"};
  QuantizeOptions o;
  o.scheme = QuantScheme(4, 32, true);
  quantizeModel(m, o, data.ids, data.num_sequences, data.seq_len, LayerwiseCalibrationOptions{});
  distillModel(m, stories260KModel(), data, qat(3));
  const std::vector<float> after = m.tensors.at(name).toFloats();
  for (size_t i = 0; i < after.size(); i += 2) REQUIRE(after[i] == 0.0f);
  CHECK(m.sparsity.count(name) == 1);
}

TEST_CASE("distill qat: the pipeline trains a quantized model through its grid, and bad input is one clear error") {
  PassRegistry registry;
  registerBuiltinPasses(registry);
  const auto validates = [&](const std::string& text, const Model& input) {
    PassManager manager(registry);
    manager.build(parsePipeline(text));
    PassContext context;
    context.setCalibration([] { return CalibrationSamples{std::vector<int32_t>(64 * 8, 1), 8, 64, {}}; }, "ones");
    return errorOf([&] { manager.validate(input, context); });
  };
  const Model float_model = stories260KModel();
  CHECK(validates("rtn(bits=3),distill(qat=true)", float_model) == "no error");
  checkError(validates("rtn(bits=3),distill", float_model),
             "pass 2 'distill' needs float weights but pass 1 'rtn' quantizes them: put distill before rtn, or train "
             "through the grid: qat=true");

  const DistillData data = sampled(12, 64, 45);
  Model plain = stories260KModel();
  checkError(errorOf([&] { distillModel(plain, stories260KModel(), data, qat(1)); }),
             "training through the grid (qat) needs a quantized student");
  Model quantized = rtnStories(4);
  DistillOptions no_qat = qat(1);
  no_qat.qat = false;
  checkError(errorOf([&] { distillModel(quantized, stories260KModel(), data, no_qat); }),
             "the student holds quantized weights");
  checkError(errorOf([&] { distillModel(quantized, stories260KModel(), data, no_qat); }), "qat=true");
}

TEST_CASE("cli distill --qat: a quantized pack trained through its grid is a quantized pack again") {
  ScratchDir dir("cli-distill-qat");
  const GeneratedStoriesData d("cli-distill-qat-data", 24, 8, 64);
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 3 --group-size 32 -o " + dir / "q3.slmc")
              .exit_code == 0);
  const std::string flags = " --data " + d.calib + " --samples 24 --seq-len 64 --steps 6 --batch 4 --lr 2e-3 --warmup 2";
  const CommandResult r = runSlmc("-q distill --teacher " + stories260K() + " --student " + dir / "q3.slmc" + " --qat" +
                                  flags + " -o " + dir / "qat.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = readJson(dir / "qat.slmc.report.json");
  CHECK(report["pipeline"] ==
        "distill(teacher=" + stories260K() + ",steps=6,batch=4,lr=2e-3,warmup=2,qat=true),export");
  const nlohmann::json& figures = report["passes"][0]["figures"];
  CHECK(figures["heldout_perplexity"].back()["perplexity"] < figures["heldout_perplexity"].front()["perplexity"]);
  const Model trained = loadModel(dir / "qat.slmc"), ptq = loadModel(dir / "q3.slmc");
  CHECK(trained.quantized.size() == ptq.quantized.size());
  for (const auto& [name, q] : ptq.quantized) CHECK(trained.quantized.at(name)->scheme == q->scheme);

  // Without --qat a quantized student is refused, with the flag to use; no output.
  expectError(runSlmc("-q distill --teacher " + stories260K() + " --student " + dir / "q3.slmc" + flags + " -o " +
                      dir / "bad.slmc"),
              "needs float weights but the input model already has");
  expectError(runSlmc("-q distill --teacher " + stories260K() + " --student " + dir / "q3.slmc" + flags + " -o " +
                      dir / "bad.slmc"),
              "start from the float checkpoint, or train through the grid: qat=true (slmc distill --qat)");
  CHECK_FALSE(fs::exists(dir / "bad.slmc"));
}
