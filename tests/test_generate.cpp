#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "lib/format/checkpoint.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "lib/reference/self_generated.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

using Sampling = ReferenceModel::SamplingOptions;

// The documented sampler, written out independently: candidates (all, or the k largest logits,
// lower id first on ties) in ascending id order, weights exp((l - max) / T) in float64, the
// first candidate whose cumulative weight exceeds u · total with u = (rng() >> 11) · 2^-53.
int32_t referenceSample(const std::vector<double>& logits, const Sampling& o, std::mt19937_64& rng) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  if (o.temperature == 0) return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (o.top_k > 0 && o.top_k < vocab) order.resize(static_cast<size_t>(o.top_k));
  std::sort(order.begin(), order.end());
  double max_logit = -INFINITY, total = 0;
  for (int32_t id : order) max_logit = std::max(max_logit, logits[id]);
  std::vector<double> w;
  for (int32_t id : order) total += w.emplace_back(std::exp((logits[id] - max_logit) / o.temperature));
  const double target = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0;
  for (size_t i = 0; i < order.size(); ++i)
    if (target < (cumulative += w[i])) return order[i];
  return order.back();
}

// Generation without a cache: every step recomputes the full forward with logits() and samples
// the last position's distribution with the same draw order (step-major, then row).
std::vector<int32_t> fullRecompute(const ReferenceModel& model, const std::vector<int32_t>& prompts, int64_t batch,
                                   int64_t prompt_len, int64_t new_tokens, const Sampling& o) {
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b)
    rows[b].assign(prompts.begin() + b * prompt_len, prompts.begin() + (b + 1) * prompt_len);
  std::mt19937_64 rng(o.seed);
  const int64_t vocab = model.config().vocab_size;
  for (int64_t step = 0; step < new_tokens; ++step)
    for (auto& row : rows) {
      const int64_t len = static_cast<int64_t>(row.size());
      const Tensor logits = model.logits(row, 1, len);
      const float* last = logits.floats() + (len - 1) * vocab;
      row.push_back(referenceSample(std::vector<double>(last, last + vocab), o, rng));
    }
  std::vector<int32_t> out;
  for (const auto& row : rows) out.insert(out.end(), row.begin(), row.end());
  return out;
}


}  // namespace

TEST_CASE("generate: temperature 0 equals step-by-step argmax of the full forward (real stories260K, 20 tokens)") {
  const ReferenceModel model(loadModel(stories260K()));
  const std::vector<int32_t> prompts = {1, 422, 327, 396, 1, 20, 146, 38};  // two prompts of 4
  Sampling greedy;
  greedy.temperature = 0;
  const std::vector<int32_t> got = model.generate(prompts, 2, 4, 20, greedy);
  REQUIRE(got.size() == 2 * 24);
  CHECK(std::equal(prompts.begin(), prompts.begin() + 4, got.begin()));
  CHECK(std::equal(prompts.begin() + 4, prompts.end(), got.begin() + 24));
  CHECK(got == fullRecompute(model, prompts, 2, 4, 20, greedy));
  // The seed plays no part in greedy decoding.
  greedy.seed = 99;
  CHECK(model.generate(prompts, 2, 4, 20, greedy) == got);
}

TEST_CASE("generate: KV-cached sampling equals sampling from full-recompute probabilities") {
  const ReferenceModel stories(loadModel(stories260K()));
  const ReferenceModel gpt2(randomModel(tinyGpt2Config(2, 40, 24), 4, 0.5f));
  for (const auto& [temperature, top_k] : std::vector<std::pair<double, int64_t>>{{1.0, 0}, {0.7, 10}, {1.5, 3}}) {
    Sampling o;
    o.temperature = temperature;
    o.top_k = top_k;
    o.seed = 17;
    const std::vector<int32_t> prompts = {1, 1, 422, 20};  // two prompts of 2
    CHECK_MESSAGE(stories.generate(prompts, 2, 2, 25, o) == fullRecompute(stories, prompts, 2, 2, 25, o),
                  "stories260K T=" << temperature << " k=" << top_k);
    // GPT-2: learned positions must continue at the cache offset.
    const std::vector<int32_t> gpt2_prompts = {3, 7, 11, 0, 39, 5};  // three prompts of 2
    CHECK_MESSAGE(gpt2.generate(gpt2_prompts, 3, 2, 20, o) == fullRecompute(gpt2, gpt2_prompts, 3, 2, 20, o),
                  "GPT-2 T=" << temperature << " k=" << top_k);
  }
}

TEST_CASE("generate: the same seed gives the same ids, another seed other ids") {
  const ReferenceModel model(loadModel(stories260K()));
  const std::vector<int32_t> prompts(3, 1);
  Sampling o;
  o.seed = 5;
  const std::vector<int32_t> a = model.generate(prompts, 3, 1, 40, o);
  CHECK(model.generate(prompts, 3, 1, 40, o) == a);
  o.seed = 6;
  CHECK(model.generate(prompts, 3, 1, 40, o) != a);
  // Rows of one call differ from each other (each draws its own uniforms).
  CHECK(!std::equal(a.begin(), a.begin() + 41, a.begin() + 41));
  // top_k = 1 is greedy whatever the temperature.
  o.top_k = 1;
  Sampling greedy;
  greedy.temperature = 0;
  CHECK(model.generate(prompts, 3, 1, 40, o) == model.generate(prompts, 3, 1, 40, greedy));
}

TEST_CASE("generate: from BOS in shares, the shares' rows sum to one process's rows") {
  const ReferenceModel model(loadModel(stories260K()));
  Sampling o;
  o.seed = 9;
  // 11 rows in batches of 4: batches 0 and 2 are share 0 of 2, batch 1 share 1; 3 shares: one each.
  const std::vector<int32_t> whole = generateFromBos(model, 11, 24, 4, o);
  REQUIRE(whole.size() == 11 * 24);
  for (const int64_t shares : {int64_t{2}, int64_t{3}, int64_t{5}}) {
    std::vector<int32_t> sum(whole.size(), 0);
    int64_t sampled_rows = 0;
    for (int64_t share = 0; share < shares; ++share) {
      int64_t last_done = 0, last_total = 0;
      const std::vector<int32_t> part = generateFromBos(
          model, 11, 24, 4, o, [&](int64_t done, int64_t total) { last_done = done, last_total = total; }, share,
          shares);
      CHECK(last_done == last_total);  // progress ends at this share's rows
      sampled_rows += last_total;
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
      // Rows outside the share are left 0; its own rows start with BOS.
      for (int64_t row = 0; row < 11; ++row)
        CHECK((part[static_cast<size_t>(row * 24)] != 0) == ((row / 4) % shares == share));
    }
    CHECK(sampled_rows == 11);
    CHECK(sum == whole);
  }
  CHECK_THROWS_WITH_AS(generateFromBos(model, 11, 24, 4, o, {}, 2, 2), doctest::Contains("no such share"), Error);
}

TEST_CASE("generate: activation quant is applied (greedy equals the quantized model's argmax)") {
  Model m = loadModel(stories260K());
  for (int64_t l = 0; l < m.config.num_layers; ++l)
    m.activation_quant[names::layer(l, "mlp.down_proj.weight")] = ActivationQuant{4, true, 0};
  const ReferenceModel quantized(m);
  Sampling greedy;
  greedy.temperature = 0;
  const std::vector<int32_t> prompt = {1, 422, 327};
  CHECK(quantized.generate(prompt, 1, 3, 20, greedy) == fullRecompute(quantized, prompt, 1, 3, 20, greedy));
}

TEST_CASE("generate: bad arguments are one-line errors") {
  const ReferenceModel model(randomModel(tinyGpt2Config(2, 40, 24), 1));
  Sampling o;
  checkError(errorOf([&] { model.generate({1, 2}, 1, 2, 23, o); }), "exceed the model's context of 24 tokens");
  checkError(errorOf([&] { model.generate({1, 40}, 1, 2, 3, o); }), "token id 40 is outside the vocabulary");
  checkError(errorOf([&] { model.generate({}, 1, 0, 3, o); }), "at least one prompt of at least one token");
  o.temperature = -1;
  checkError(errorOf([&] { model.generate({1}, 1, 1, 3, o); }), "temperature must be finite and >= 0");
  o.temperature = 1;
  o.top_k = -2;
  checkError(errorOf([&] { model.generate({1}, 1, 1, 3, o); }), "top-k must be >= 0");
  o.top_k = 0;
  CHECK(model.generate({4, 5}, 1, 2, 0, o) == std::vector<int32_t>{4, 5});
}

TEST_CASE("generate: speed on the real stories260K (figures only)") {
  const ReferenceModel model(loadModel(stories260K()));
  Sampling o;
  o.seed = 1;
  for (int64_t batch : {1, 16}) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> out = model.generate(std::vector<int32_t>(static_cast<size_t>(batch), 1), batch, 1, 255, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("stories260K generate batch " << batch << ": " << static_cast<double>(batch * 255) / s
                                          << " tokens/s (" << computeThreads() << " threads)");
    CHECK(out.size() == static_cast<size_t>(batch * 256));
  }
}
