// The runtime's decoder (runtime/transformer.h) and sampler against the LibTorch reference on
// the same packs: float logits within 1e-4, incremental steps equal a batched prefill,
// quantized (weight-only and W8A8) perplexity within 0.1%, GPT-2 and biased GQA Llama shapes,
// greedy and seeded generation; then `slmc run / eval / validate / bench` end to end and their
// bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "lib/format/checkpoint.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "runtime/sampler.h"
#include "runtime/transformer.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

std::vector<int32_t> sampleIds() {
  std::istringstream in(readFile(fixture("reference/stories260K_sample.txt")));
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  REQUIRE(ids.size() >= 256);
  return ids;
}

runtime::Transformer packed(const Model& m, const ScratchDir& dir, const std::string& name) {
  writePack(m, dir / name, {m.source, "", "test", "test"});
  return runtime::Transformer::open(dir / name);
}

// Max |a - b| over n values.
double maxDiff(const float* a, const float* b, int64_t n) {
  double d = 0;
  for (int64_t i = 0; i < n; ++i) d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d;
}

// The runtime's logits for every position of `ids`, from an empty cache.
std::vector<float> runtimeLogits(runtime::Transformer& t, const std::vector<int32_t>& ids) {
  std::vector<float> out(ids.size() * static_cast<size_t>(t.config().vocab_size));
  t.reset();
  t.prefill(ids.data(), static_cast<int64_t>(ids.size()), out.data());
  return out;
}

double runtimePerplexity(runtime::Transformer& t, const std::vector<int32_t>& ids, int64_t ctx, int64_t stride) {
  double sum = 0;
  int64_t scored = 0;
  for (const EvalWindow& w : slidingWindows(static_cast<int64_t>(ids.size()), ctx, stride)) {
    sum += runtime::windowNll(t, ids.data(), w.begin, w.end, w.score_from);
    scored += w.end - w.score_from;
  }
  return std::exp(sum / static_cast<double>(scored));
}

// Every linear weight of the decoder layers.
std::vector<std::string> layerLinears(const ModelConfig& c) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const char* n : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      if (c.gatedMlp() || std::string(n) != "mlp.gate_proj") out.push_back(names::layer(i, std::string(n) + ".weight"));
  return out;
}

// RTN of every layer linear with `scheme` (per-channel where the group does not divide the row).
Model quantized(const Model& base, QuantScheme scheme) {
  Model m = base;
  for (const std::string& name : layerLinears(m.config)) {
    const Tensor& w = m.tensors.at(name);
    const int64_t rows = w.shape()[0], cols = w.shape()[1];
    QuantScheme s = scheme;
    if (s.group_size > 0 && cols % s.group_size != 0) s.group_size = 0;
    const std::vector<float> values = w.toFloats();
    m.setQuantized(name, quantizeRtn(values.data(), rows, cols, s));
  }
  return m;
}

// Qwen2-like: q/k/v biases, grouped-query attention, tied head, a different rope theta.
ModelConfig biasedLlamaConfig() {
  ModelConfig c;
  c.architecture = "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.hidden_size = 48;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 6;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 100;
  c.max_position_embeddings = 160;
  c.rope_theta = 1e6;
  c.norm_eps = 1e-6;
  c.qkv_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

std::vector<int32_t> pseudoIds(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>((i * 37 + 11) % vocab);
  return ids;
}

}  // namespace

TEST_CASE("runtime model: float stories260K pack gives the reference's logits, steps equal a prefill") {
  ScratchDir dir("rt-float");
  const Model m = loadModel(stories260K());
  runtime::Transformer t = packed(m, dir, "f.slmc");
  const ReferenceModel ref(m);
  const std::vector<int32_t> all = sampleIds();
  const std::vector<int32_t> ids(all.begin(), all.begin() + 64);
  const int64_t vocab = m.config.vocab_size;

  const Tensor expected = ref.logits(ids, 1, 64);
  const std::vector<float> got = runtimeLogits(t, ids);
  const double diff = maxDiff(expected.floats(), got.data(), 64 * vocab);
  MESSAGE("stories260K float pack: max |logit diff| vs reference " << diff);
  CHECK(diff < kReferenceLogitTolerance);
  CHECK(t.position() == 64);

  // Against the exact logits (transformers in float64, fixture): the runtime's own float32
  // error, which is what the 1e-4 target bounds; a float32 reference carries its own as well.
  {
    const nlohmann::json golden = readJson(fixture("reference/stories260K_logits_f64.json"));
    double worst = 0;
    size_t offset = 0;
    for (const auto& row : golden["ids"]) {
      const std::vector<float> l = runtimeLogits(t, row.get<std::vector<int32_t>>());
      for (size_t i = 0; i < l.size(); ++i)
        worst = std::max(worst, std::fabs(l[i] - golden["logits"][offset + i].get<double>()));
      offset += l.size();
    }
    REQUIRE(offset == golden["logits"].size());
    MESSAGE("stories260K float pack: max |logit diff| vs transformers in float64 " << worst);
    CHECK(worst < kReferenceLogitTolerance);
  }

  // One token at a time, and a prefill split unevenly, give the same logits.
  t.reset();
  double step_diff = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const float* l = t.step(ids[static_cast<size_t>(i)]);
    step_diff = std::max(step_diff, maxDiff(l, got.data() + i * vocab, vocab));
  }
  CHECK(step_diff < 1e-4);  // matmul(n = 1) and matmul(n = 64) sum in different orders
  t.reset();
  t.prefill(ids.data(), 10);
  const float* last = t.prefill(ids.data() + 10, 54);
  CHECK(maxDiff(last, got.data() + 63 * vocab, vocab) < 1e-4);

  // Past the context, and ids outside the vocabulary, are errors naming the fix.
  t.reset();
  std::vector<int32_t> too_long(static_cast<size_t>(t.context() + 1), 1);
  checkError(errorOf([&] { t.prefill(too_long.data(), static_cast<int64_t>(too_long.size())); }),
             "exceeds the model's context");
  const int32_t bad = 512;
  checkError(errorOf([&] { t.step(bad); }), "outside the vocabulary");
}

TEST_CASE("runtime model: quantized packs (int4/int5/int6 g32, int8 channel asym, int3 asym, W8A8) match the reference perplexity") {
  ScratchDir dir("rt-quant");
  const Model base = loadModel(stories260K());
  const std::vector<int32_t> ids = sampleIds();

  struct Case {
    std::string name;
    Model model;
  };
  std::vector<Case> cases;
  cases.push_back({"int4-g32-sym", quantized(base, {4, 32, true})});
  cases.push_back({"int8-channel-asym", quantized(base, {8, 0, false})});
  cases.push_back({"int3-g32-asym", quantized(base, {3, 32, false})});
  cases.push_back({"int5-g32-sym", quantized(base, {5, 32, true})});
  cases.push_back({"int5-g64-asym", quantized(base, {5, 64, false})});
  cases.push_back({"int6-g32-sym", quantized(base, {6, 32, true})});
  Model w8a8 = quantized(base, {8, 0, true});
  for (const std::string& name : layerLinears(w8a8.config)) w8a8.activation_quant[name] = {8, true, 0};
  cases.push_back({"w8a8-dynamic", w8a8});
  Model w8a8s = quantized(base, {8, 0, true});
  for (const std::string& name : layerLinears(w8a8s.config)) w8a8s.activation_quant[name] = {8, false, 0.05f};
  cases.push_back({"w8a8-static", w8a8s});

  for (Case& c : cases) {
    CAPTURE(c.name);
    runtime::Transformer t = packed(c.model, dir, c.name + ".slmc");
    const ReferenceModel ref(c.model);
    // The whole sample in one window (BOS first), then strided windows of 64 tokens.
    PerplexityOptions whole;
    whole.ctx = 256;
    const double expected = evaluatePerplexity(ref, ids, whole).perplexity;
    const double got = runtimePerplexity(t, ids, 256, 0);
    const double rel = std::fabs(got - expected) / expected;
    MESSAGE(c.name << ": runtime perplexity " << got << " vs reference " << expected << " (relative " << rel << ")");
    // Weight-only packs agree to float rounding (~1e-6). Activation rounding is discontinuous:
    // the last-bit differences between the runtime's kernels and LibTorch's BLAS put a few
    // inputs one integer step apart, which moves this tiny (64-wide) model's perplexity by
    // 0.01-0.5% depending on the kernel path (measured: AVX-512 0.055%, AVX2 0.085%, scalar 0.45%),
    // and by 1.7% when the reference's OpenBLAS runs its Cooperlake kernel instead of SkylakeX's.
    CHECK(rel < (c.model.activation_quant.empty() ? 1e-3 : 3e-2));
    PerplexityOptions strided;
    strided.ctx = 64;
    strided.stride = 32;
    const double expected_strided = evaluatePerplexity(ref, ids, strided).perplexity;
    const double rel_strided = std::fabs(runtimePerplexity(t, ids, 64, 32) - expected_strided) / expected_strided;
    // Windows that start without BOS (perplexity in the hundreds) amplify the rounding flips.
    CHECK(rel_strided < (c.model.activation_quant.empty() ? 1e-3 : 2e-2));
    if (c.model.activation_quant.empty()) {
      // Weight-only: the dequantized weights are exact, so the logits agree as closely as float.
      const std::vector<int32_t> head(ids.begin(), ids.begin() + 48);
      const std::vector<float> l = runtimeLogits(t, head);
      CHECK(maxDiff(ref.logits(head, 1, 48).floats(), l.data(), 48 * c.model.config.vocab_size) < kReferenceLogitTolerance);
    }
  }
}

TEST_CASE("runtime model: random GPT-2 and biased grouped-query Llama packs match the reference") {
  ScratchDir dir("rt-shapes");
  for (const ModelConfig& c : {tinyGpt2Config(2, 96, 80, 32, 8), biasedLlamaConfig()}) {
    CAPTURE(c.architecture);
    Model m = randomModel(c, 7);
    // Non-trivial norms and biases (randomModel sets them to 1 and 0).
    for (const auto& [name, tensor] : std::vector<std::pair<std::string, Tensor>>(m.tensors.begin(), m.tensors.end()))
      if (tensor.shape().size() == 1) {
        std::vector<float> v = tensor.toFloats();
        for (size_t i = 0; i < v.size(); ++i) v[i] += 0.05f * static_cast<float>((i * 7) % 5) - 0.1f;
        m.tensors.set(name, Tensor::fromFloats(tensor.shape(), v));
      }
    runtime::Transformer t = packed(m, dir, c.model_type + ".slmc");
    const ReferenceModel ref(m);
    const int64_t n = 70;  // more than one prefill chunk
    const std::vector<int32_t> ids = pseudoIds(n, c.vocab_size);
    const std::vector<float> got = runtimeLogits(t, ids);
    const double diff = maxDiff(ref.logits(ids, 1, n).floats(), got.data(), n * c.vocab_size);
    MESSAGE(c.architecture << ": max |logit diff| " << diff);
    CHECK(diff < kReferenceLogitTolerance);
    t.reset();
    double step_diff = 0;
    for (int64_t i = 0; i < n; ++i)
      step_diff = std::max(step_diff, maxDiff(t.step(ids[static_cast<size_t>(i)]), got.data() + i * c.vocab_size,
                                              c.vocab_size));
    CHECK(step_diff < 1e-5);
  }
}

TEST_CASE("runtime model: packs of the Hugging Face fixtures (GPT-2, Qwen2, bf16 Llama) give transformers' logits") {
  ScratchDir dir("rt-hf");
  for (const std::string name : {"tiny-gpt2", "tiny-qwen2", "tiny-llama-bf16"}) {
    CAPTURE(name);
    const std::string src = fixture("reference/" + name);
    runtime::Transformer t = packed(loadModel(src), dir, name + ".slmc");
    const nlohmann::json golden = readJson(src + "/reference_logits.json");
    const int64_t vocab = t.config().vocab_size;
    double worst = 0;
    size_t offset = 0;
    for (const auto& row : golden["ids"]) {
      const std::vector<int32_t> ids = row.get<std::vector<int32_t>>();
      const std::vector<float> got = runtimeLogits(t, ids);
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::fabs(got[i] - golden["logits"][offset + i].get<double>()));
      offset += got.size();
    }
    REQUIRE(offset == golden["logits"].size());
    MESSAGE(name << ": runtime max |logit error| vs transformers " << worst << " (vocab " << vocab << ")");
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("runtime model: greedy generation equals the reference's, the same seed gives the same tokens") {
  ScratchDir dir("rt-generate");
  const Model m = loadModel(stories260K());
  runtime::Transformer t = packed(m, dir, "g.slmc");
  const ReferenceModel ref(m);
  const std::vector<int32_t> prompt = {1, 436, 422};
  const int64_t new_tokens = 48;

  const auto generate = [&](const runtime::SamplerOptions& o) {
    runtime::Sampler sampler(m.config.vocab_size, o);
    std::vector<int32_t> out = prompt;
    t.reset();
    const float* logits = t.prefill(prompt.data(), static_cast<int64_t>(prompt.size()));
    for (int64_t i = 0; i < new_tokens; ++i) {
      out.push_back(sampler.sample(logits));
      logits = t.step(out.back());
    }
    return out;
  };

  runtime::SamplerOptions greedy;
  greedy.temperature = 0;
  ReferenceModel::SamplingOptions ref_greedy;
  ref_greedy.temperature = 0;
  CHECK(generate(greedy) == ref.generate(prompt, 1, 3, new_tokens, ref_greedy));

  // With top-p 1 the draw is the reference's: same seed, same tokens.
  runtime::SamplerOptions sampled;
  sampled.temperature = 0.8;
  sampled.top_k = 40;
  sampled.top_p = 1.0;
  sampled.seed = 1234;
  const std::vector<int32_t> a = generate(sampled);
  CHECK(a == generate(sampled));
  CHECK(a == ref.generate(prompt, 1, 3, new_tokens, {0.8, 40, 1234}));
  sampled.seed = 99;
  CHECK(a != generate(sampled));

  // Nucleus: a tiny top-p keeps only the most likely token (greedy); top-p runs are seeded too.
  runtime::SamplerOptions nucleus;
  nucleus.top_p = 1e-9;
  nucleus.seed = 5;
  CHECK(generate(nucleus) == generate(greedy));
  nucleus.top_p = 0.9;
  CHECK(generate(nucleus) == generate(nucleus));

  runtime::SamplerOptions bad;
  bad.top_p = 0;
  checkError(errorOf([&] { runtime::Sampler(8, bad); }), "--top-p");
  bad.top_p = 1;
  bad.temperature = -1;
  checkError(errorOf([&] { runtime::Sampler(8, bad); }), "--temperature");
}

TEST_CASE("cli runtime: run, eval, validate and bench on a stories260K pack, bad input exits 1 with one line") {
  ScratchDir dir("cli-runtime");
  CommandResult r = runSlmc("-q export " + stories260K() + " -o " + dir / "s.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string pack = dir / "s.slmc";
  const std::string ids = fixture("reference/stories260K_sample.txt");

  // run: ids in, ids out; greedy equals the reference; a seed repeats.
  r = runSlmc("run " + pack + " --prompt-ids 1,436,422 -n 20 --temperature 0 --ignore-eos");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(r.err.find("tokens/s") != std::string::npos, r.err);
  {
    std::istringstream in(r.out);
    std::vector<int32_t> got;
    for (int32_t id; in >> id;) got.push_back(id);
    const Model m = loadModel(stories260K());
    ReferenceModel::SamplingOptions greedy;
    greedy.temperature = 0;
    CHECK(got == ReferenceModel(m).generate({1, 436, 422}, 1, 3, 20, greedy));
  }
  const std::string sampled = "run " + pack + " --prompt-ids 1 -n 30 --seed 42 --temperature 0.9 --top-p 0.95";
  r = runSlmc(sampled);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == runSlmc(sampled).out);

  // eval: the runtime's perplexity equals the reference's on the same windows.
  r = runSlmc("-q eval " + pack + " --tokens " + ids + " --ctx 64 --stride 32 --json " + dir / "rt.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("engine runtime") != std::string::npos);
  r = runSlmc("-q eval " + pack + " --engine reference --tokens " + ids + " --ctx 64 --stride 32 --json " +
              dir / "ref.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const double rt_ppl = readJson(dir / "rt.json")["perplexity"], ref_ppl = readJson(dir / "ref.json")["perplexity"];
  CHECK(std::fabs(rt_ppl - ref_ppl) / ref_ppl < 1e-3);
  CHECK(readJson(dir / "rt.json")["tokens_scored"] == readJson(dir / "ref.json")["tokens_scored"]);

  // validate: against the checkpoint the pack came from.
  r = runSlmc("-q validate " + pack + " --reference " + stories260K() + " --tokens " + ids + " --ctx 64 --json " +
              dir / "v.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("top-1 agreement") != std::string::npos);
  const nlohmann::json v = readJson(dir / "v.json");
  CHECK(v["max_abs_logit_diff"].get<double>() < kReferenceLogitTolerance);
  CHECK(v["top1_agreement"].get<double>() > 0.99);
  CHECK(v["perplexity_relative_diff"].get<double>() < 1e-4);
  CHECK(v["tokens_scored"] == 252);
  CHECK(v["reference_dtype"] == "float32");
  // A float64 reference: the difference is then the runtime's own float32 error.
  r = runSlmc("-q validate " + pack + " --reference " + stories260K() + " --reference-dtype float64 --tokens " + ids +
              " --ctx 64 --json " + dir / "v64.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("(float64)") != std::string::npos);
  const nlohmann::json v64 = readJson(dir / "v64.json");
  CHECK(v64["reference_dtype"] == "float64");
  CHECK(v64["max_abs_logit_diff"].get<double>() < kReferenceLogitTolerance);
  CHECK(v64["top1_agreement"].get<double>() > 0.99);
  expectError(runSlmc("-q validate " + pack + " --reference-dtype float16 --tokens " + ids), "--reference-dtype");

  // bench: figures > 0; --no-bandwidth leaves the bandwidth figures null.
  r = runSlmc("bench " + pack + " -n 16 --prompt 16 --json " + dir / "b.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json b = readJson(dir / "b.json");
  CHECK(b["generation_tokens_per_second"].get<double>() > 0);
  CHECK(b["prompt_tokens_per_second"].get<double>() > 0);
  CHECK(b["weight_bytes_per_token"].get<int64_t>() > 0);
  CHECK(b["achieved_gb_per_second"].get<double>() > 0);
  CHECK(b["memory_read_gb_per_second"].get<double>() > 0);
  CHECK(b["bandwidth_fraction"].get<double>() > 0);
  CHECK(r.out.find("generation reads weights at") != std::string::npos);
  r = runSlmc("bench " + pack + " -n 4 --prompt 4 --no-bandwidth --json " + dir / "b.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(readJson(dir / "b.json")["memory_read_gb_per_second"].is_null());
  CHECK(readJson(dir / "b.json")["bandwidth_fraction"].is_null());
  CHECK(r.out.find("bandwidth") == std::string::npos);

  // Bad input.
  expectError(runSlmc("run " + dir / "missing.slmc" + " --prompt-ids 1"), "does not exist");
  expectError(runSlmc("run " + stories260K() + " --prompt-ids 1"), "not a .slmc pack");
  writeFile(dir / "text.slmc", "hello, world");
  expectError(runSlmc("bench " + dir / "text.slmc"), "not a .slmc pack");
  expectError(runSlmc("run " + pack + " --prompt-ids 1 -n 0"), "-n 0");
  expectError(runSlmc("run " + pack + " --prompt-ids 1 -n 600"), "exceed the model's context");
  expectError(runSlmc("run " + pack + " -p hello"), "carries no tokenizer");
  expectError(runSlmc("run " + pack + " --prompt-ids 1,x"), "is not a token id");
  expectError(runSlmc("run " + pack + " --prompt-ids 1 --top-p 2"), "--top-p");
  expectError(runSlmc("-q eval " + pack + " --tokens " + ids + " --ctx 1024"), "exceeds the model's context");
  expectError(runSlmc("-q validate " + pack + " --tokens " + ids + " --ctx 1024"), "exceeds the model's context");
  expectError(runSlmc("bench " + pack + " -n 0"), "-n 0");
  expectError(runSlmc("bench " + pack + " -n 500 --prompt 100"), "exceed the model's context");
}

TEST_CASE("cli runtime: run encodes the prompt with the pack's embedded tokenizer and prints text") {
  ScratchDir dir("cli-runtime-text");
  ModelConfig c = biasedLlamaConfig();
  c.vocab_size = 2048;  // room for the byte-level fixture tokenizer's 2000 tokens
  const Model m = randomModel(c, 3);
  writePack(m, dir / "t.slmc", {"random", "", "", "test"},
            {{"tokenizer.json", readFile(fixture("tokenizers/bytelevel/tokenizer.json"))}});
  const std::string run = "run " + dir / "t.slmc" + " -p \"Once upon a time\" -n 8 --temperature 0 --ignore-eos";
  CommandResult r = runSlmc(run);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.rfind("Once upon a time", 0) == 0);
  CHECK(r.out.size() > std::string("Once upon a time\n").size());
  CHECK(r.out == runSlmc(run).out);
  // --tokenizer overrides the embedded one; a tokenizer larger than the vocabulary is refused.
  r = runSlmc(run + " --tokenizer " + fixture("tokenizers/bytelevel/tokenizer.json"));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  ScratchDir small("cli-runtime-small");
  c.vocab_size = 100;
  writePack(randomModel(c, 3), small / "s.slmc", {"random", "", "", "test"});
  expectError(runSlmc("run " + small / "s.slmc" + " -p hi --tokenizer " + fixture("tokenizers/bytelevel/tokenizer.json")),
              "use the tokenizer the model was trained with");
}
