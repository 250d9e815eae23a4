#include <doctest/doctest.h>

#include <cmath>

#include "datasets/token_file.h"
#include "lib/format/checkpoint.h"
#include "lib/reference/reference_model.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// Max |slmc - transformers| over the logits of a golden record {ids, shape, logits}.
double maxLogitError(const ReferenceModel& model, const nlohmann::json& golden) {
  std::vector<int32_t> ids;
  for (const auto& row : golden["ids"])
    for (const auto& id : row) ids.push_back(id.get<int32_t>());
  const int64_t batch = golden["shape"][0], seq = golden["shape"][1];
  const Tensor logits = model.logits(ids, batch, seq);
  REQUIRE(logits.shape() == Shape{batch, seq, golden["shape"][2].get<int64_t>()});
  const auto& expected = golden["logits"];
  REQUIRE(static_cast<int64_t>(expected.size()) == logits.numel());
  double worst = 0;
  for (int64_t i = 0; i < logits.numel(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(logits.floats()[i]) - expected[static_cast<size_t>(i)].get<double>()));
  return worst;
}

double meanNll(const ReferenceModel& model, const std::vector<int32_t>& ids) {
  const std::vector<float> nll = model.nextTokenNll(ids, 1, static_cast<int64_t>(ids.size()));
  double sum = 0;
  for (float v : nll) sum += v;
  return sum / static_cast<double>(nll.size());
}
}  // namespace

TEST_CASE("reference forward matches transformers on the real stories260K (max abs error <= 1e-4)") {
  setComputeThreads(0);
  const ReferenceModel model(loadModel(stories260K()));
  const auto golden = readJson(fixture("reference/stories260K_logits.json"));
  const double err = maxLogitError(model, golden);
  MESSAGE("stories260K max |logit error| = " << err);
  CHECK(err <= 1e-4);
}

TEST_CASE("float64 reference forward gives transformers' float64 logits on stories260K, float32 is further off") {
  // The golden record is transformers run in float64 throughout (scripts/make_reference_fixtures.py
  // keeps its RMSNorm in float64 too); logits() returns float32, so the float64 forward can only
  // be within float32's rounding of them (half an ulp: 1e-6 at |logit| 16-32).
  setComputeThreads(0);
  const Model m = loadModel(stories260K());
  const ReferenceModel exact(m, ReferencePrecision::Float64), single(m);
  CHECK(exact.precision() == ReferencePrecision::Float64);
  CHECK(single.precision() == ReferencePrecision::Float32);
  const auto golden = readJson(fixture("reference/stories260K_logits_f64.json"));
  const double exact_err = maxLogitError(exact, golden), single_err = maxLogitError(single, golden);
  MESSAGE("stories260K vs transformers float64: float64 reference " << exact_err << ", float32 reference "
                                                                     << single_err);
  CHECK(exact_err <= 2e-6);
  CHECK(single_err > 4 * exact_err);  // the float64 path is not float32 in disguise
  CHECK(single_err <= 1e-4);
  // The other entry points run in float64 too: perplexity agrees with float32's to its noise,
  // and greedy generation picks the same tokens.
  const std::vector<int32_t> sample = readTokenFile(fixture("reference/stories260K_sample.txt"));
  CHECK(std::fabs(meanNll(exact, sample) - meanNll(single, sample)) < 1e-5);
  ReferenceModel::SamplingOptions greedy;
  greedy.temperature = 0;
  CHECK(exact.generate({1, 436, 422}, 1, 3, 20, greedy) == single.generate({1, 436, 422}, 1, 3, 20, greedy));
}

TEST_CASE("reference forward matches transformers on GPT-2, Qwen2 (biases, GQA, sharded) and bf16 Llama") {
  for (const char* name : {"tiny-gpt2", "tiny-qwen2", "tiny-llama-bf16"}) {
    const std::string dir = fixture(std::string("reference/") + name);
    const ReferenceModel model(loadModel(dir));
    const double err = maxLogitError(model, readJson(dir + "/reference_logits.json"));
    MESSAGE(std::string(name) << " max |logit error| = " << err);
    CHECK_MESSAGE(err <= 1e-4, name);
  }
}

TEST_CASE("stories260K predicts its own text well and random tokens badly (real weights)") {
  const ReferenceModel model(loadModel(stories260K()));
  const auto golden = readJson(fixture("reference/stories260K_logits.json"));
  const std::vector<int32_t> sample = readTokenFile(fixture("reference/stories260K_sample.txt"));
  const double sample_nll = meanNll(model, sample);
  CHECK(sample_nll == doctest::Approx(golden["sample_mean_nll"].get<double>()).epsilon(1e-4));
  CHECK(sample_nll < 3.0);  // perplexity < 20 on a 512-token vocabulary

  std::vector<int32_t> random;
  for (const auto& id : golden["random_ids"]) random.push_back(id.get<int32_t>());
  const double random_nll = meanNll(model, random);
  CHECK(random_nll == doctest::Approx(golden["random_mean_nll"].get<double>()).epsilon(1e-4));
  CHECK(random_nll > 8.0);
}

TEST_CASE("batched forward equals one sequence at a time") {
  const ReferenceModel model(loadModel(fixture("reference/tiny-qwen2")));
  const std::vector<int32_t> a = {1, 5, 9, 17, 33, 2}, b = {90, 4, 4, 4, 18, 77};
  std::vector<int32_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  const Tensor batched = model.logits(both, 2, 6);
  const Tensor first = model.logits(a, 1, 6), second = model.logits(b, 1, 6);
  for (int64_t i = 0; i < first.numel(); ++i) {
    REQUIRE(batched.floats()[i] == doctest::Approx(first.floats()[i]).epsilon(1e-5));
    REQUIRE(batched.floats()[first.numel() + i] == doctest::Approx(second.floats()[i]).epsilon(1e-5));
  }
}

TEST_CASE("reference forward rejects ids outside the vocabulary and sequences past the context") {
  const ReferenceModel model(loadModel(fixture("reference/tiny-gpt2")));
  CHECK_THROWS_WITH_AS(model.logits({1, 96}, 1, 2), doctest::Contains("token id 96 is outside the vocabulary [0, 96)"),
                       Error);
  CHECK_THROWS_WITH_AS(model.logits(std::vector<int32_t>(65, 1), 1, 65),
                       doctest::Contains("exceeds the model's context of 64"), Error);
}
