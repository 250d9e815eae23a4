#include <doctest/doctest.h>

#include <cmath>

#include "datasets/token_file.h"
#include "lib/format/checkpoint.h"
#include "lib/model/random_model.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/perplexity.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// The sample twice over (512 tokens): with ctx 96, five full windows and a 32-token tail.
std::vector<int32_t> sampleIds() {
  std::vector<int32_t> ids = readTokenFile(fixture("reference/stories260K_sample.txt"));
  const std::vector<int32_t> copy = ids;
  ids.insert(ids.end(), copy.begin(), copy.end());
  return ids;
}
}  // namespace

TEST_CASE("compare: a model against itself has agreement 1, KL 0 and evaluatePerplexity's perplexity") {
  const ReferenceModel model(loadModel(stories260K()));
  const std::vector<int32_t> ids = sampleIds();
  ComparisonOptions o;
  o.ctx = 96;
  o.batch = 2;
  int64_t calls = 0, last_done = 0, last_total = 0;
  const ComparisonResult r = compareModels(model, model, ids, o, [&](int64_t done, int64_t total) {
    ++calls;
    last_done = done;
    last_total = total;
  });
  PerplexityOptions p;
  p.ctx = 96;
  p.batch = 3;
  const PerplexityResult ppl = evaluatePerplexity(model, ids, p);
  CHECK(r.tokens_scored == ppl.tokens_scored);
  CHECK(r.tokens_scored == 512 - 6);  // one token per window has no prediction
  CHECK(r.top1_agreement == 1.0);
  CHECK(std::abs(r.mean_kl) <= 1e-6);
  CHECK(r.base_mean_nll == r.candidate_mean_nll);
  CHECK(r.base_perplexity == doctest::Approx(ppl.perplexity).epsilon(1e-5));
  CHECK(r.candidate_perplexity == doctest::Approx(ppl.perplexity).epsilon(1e-5));
  CHECK(last_done == 6);
  CHECK(last_total == 6);
  CHECK(calls == 4);  // batches: 2 + 2 + 1 full windows, then the tail
}

TEST_CASE("compare: a perturbed model has KL > 0 and agreement < 1 (real stories260K)") {
  const Model m = loadModel(stories260K());
  Model perturbed = m;
  for (int64_t l = 0; l < m.config.num_layers; ++l) {
    const std::string name = names::layer(l, "mlp.down_proj.weight");
    std::vector<float> v = m.tensors.at(name).toFloats();
    for (size_t i = 0; i < v.size(); ++i) v[i] *= (i % 3 == 0) ? 0.8f : 1.1f;
    perturbed.tensors.set(name, Tensor::fromFloats(m.tensors.at(name).shape(), std::move(v)));
  }
  const ReferenceModel base(m), candidate(perturbed);
  ComparisonOptions o;
  o.ctx = 256;  // each window is the sample, which starts with BOS like the model's training text
  const ComparisonResult r = compareModels(base, candidate, sampleIds(), o);
  MESSAGE("perturbed stories260K: KL " << r.mean_kl << "  agreement " << r.top1_agreement << "  ppl "
                                       << r.base_perplexity << " -> " << r.candidate_perplexity);
  CHECK(r.mean_kl > 1e-3);
  CHECK(r.top1_agreement < 1.0);
  CHECK(r.top1_agreement > 0.3);  // a perturbation, not a different model
  CHECK(r.base_perplexity != r.candidate_perplexity);
  // KL is not symmetric, but both directions are positive.
  CHECK(compareModels(candidate, base, sampleIds(), o).mean_kl > 1e-3);
}

TEST_CASE("compare: models with different vocabularies or too long windows are rejected") {
  const ReferenceModel stories(loadModel(stories260K()));
  ModelConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 256;
  c.max_position_embeddings = 64;
  const ReferenceModel small(randomModel(c, 1));
  checkError(errorOf([&] { compareModels(stories, small, {1, 2, 3}, ComparisonOptions{}); }),
             "cannot compare models with different vocabularies (512 vs 256 tokens)");
  c.vocab_size = 512;
  const ReferenceModel short_ctx(randomModel(c, 1));
  ComparisonOptions o;
  o.ctx = 128;
  checkError(errorOf([&] { compareModels(stories, short_ctx, {1, 2, 3}, o); }),
             "--ctx 128 exceeds the model's context of 64");
}
