#include <doctest/doctest.h>

#include <cmath>

#include "datasets/token_file.h"
#include "lib/format/checkpoint.h"
#include "lib/reference/perplexity.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// -log softmax(row)[target], by hand in double.
double targetNll(const float* row, int vocab, int32_t target) {
  double m = row[0];
  for (int v = 1; v < vocab; ++v) m = std::max(m, static_cast<double>(row[v]));
  double z = 0;
  for (int v = 0; v < vocab; ++v) z += std::exp(row[v] - m);
  return -(row[target] - m - std::log(z));
}

// Σ over `windows` of each scored target's NLL, from the window's logits, by hand (vocab 96).
double nllSumByHand(const ReferenceModel& model, const std::vector<int32_t>& ids, const std::vector<EvalWindow>& windows) {
  double sum = 0;
  for (const EvalWindow& w : windows) {
    const int64_t len = w.end - w.begin;
    const std::vector<int32_t> window(ids.begin() + w.begin, ids.begin() + w.end);
    const Tensor logits = model.logits(window, 1, len);
    for (int64_t t = w.score_from; t < w.end; ++t)
      sum += targetNll(logits.floats() + (t - w.begin - 1) * 96, 96, ids[static_cast<size_t>(t)]);
  }
  return sum;
}

// 40 ids of tiny-qwen2's 96-token vocabulary.
std::vector<int32_t> tinyIds() {
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % 96);
  return ids;
}

}  // namespace

TEST_CASE("sliding windows score each token at most once, every token that has context in its window") {
  for (int64_t n : {2, 7, 100, 257}) {
    for (auto [ctx, stride] : std::vector<std::pair<int64_t, int64_t>>{{8, 0}, {8, 8}, {8, 3}, {16, 1}, {64, 32}}) {
      CAPTURE(n);
      CAPTURE(ctx);
      CAPTURE(stride);
      std::vector<int> scored(static_cast<size_t>(n), 0);
      for (const EvalWindow& w : slidingWindows(n, ctx, stride)) {
        CHECK(w.end - w.begin <= ctx);
        CHECK(w.score_from > w.begin);  // at least one token of context
        for (int64_t t = w.score_from; t < w.end; ++t) ++scored[static_cast<size_t>(t)];
      }
      CHECK(scored[0] == 0);
      // As in the Hugging Face recipe, only a window's first token goes unscored, and only when
      // no earlier window scored it (stride == ctx): it has no context inside its window.
      const int64_t step = stride ? stride : ctx;
      for (int64_t t = 1; t < n; ++t)
        REQUIRE(scored[static_cast<size_t>(t)] == (step == ctx && t % ctx == 0 ? 0 : 1));
    }
  }
  CHECK_THROWS_WITH_AS(slidingWindows(100, 8, 9), doctest::Contains("cannot exceed --ctx"), Error);
  CHECK_THROWS_WITH_AS(slidingWindows(1, 8, 0), doctest::Contains("at least 2 tokens"), Error);
}

TEST_CASE("second-half windows are llama-perplexity's: whole windows of ctx, the last ctx - 1 - ctx/2 targets each") {
  // llama.cpp scores logits first = ctx/2 .. ctx-2 of each chunk: targets begin + ctx/2 + 1 .. end - 1.
  const std::vector<EvalWindow> w = secondHalfWindows(1100, 512);
  REQUIRE(w.size() == 2);  // tokens 1024..1099 make no whole window
  CHECK(w[0].begin == 0);
  CHECK(w[0].end == 512);
  CHECK(w[0].score_from == 257);
  CHECK(w[1].begin == 512);
  CHECK(w[1].end == 1024);
  CHECK(w[1].score_from == 769);
  CHECK(w[1].end - w[1].score_from == 255);
  CHECK(evalWindows(1100, 512, 512, true).size() == 2);
  CHECK(evalWindows(1100, 512, 256, false).size() == slidingWindows(1100, 512, 256).size());
  CHECK_THROWS_WITH_AS(evalWindows(1100, 512, 256, true), doctest::Contains("drop --stride 256"), Error);
  CHECK_THROWS_WITH_AS(secondHalfWindows(500, 512), doctest::Contains("only 500 tokens"), Error);
}

TEST_CASE("second-half perplexity equals the mean NLL of those targets computed by hand") {
  const ReferenceModel model(loadModel(fixture("reference/tiny-qwen2")));
  const std::vector<int32_t> ids = tinyIds();
  PerplexityOptions o;
  o.ctx = 16;
  o.batch = 2;
  o.second_half = true;
  const PerplexityResult r = evaluatePerplexity(model, ids, o);
  CHECK(r.windows == 2);
  CHECK(r.tokens_scored == 14);  // 2 windows x (16 - 1 - 8)
  // Written out, not taken from secondHalfWindows: logits of positions 8..14 predict 9..15.
  const double sum = nllSumByHand(model, ids, {{0, 16, 9}, {16, 32, 25}});
  CHECK(r.mean_nll == doctest::Approx(sum / 14).epsilon(1e-5));
}

TEST_CASE("perplexity equals the mean NLL computed from the logits by hand") {
  const ReferenceModel model(loadModel(fixture("reference/tiny-qwen2")));
  const std::vector<int32_t> ids = tinyIds();
  PerplexityOptions o;
  o.ctx = 16;
  o.stride = 8;
  o.batch = 3;
  const PerplexityResult r = evaluatePerplexity(model, ids, o);
  CHECK(r.tokens_scored == 39);

  // By hand: each window's logits, log-softmax, the scored targets only.
  const double sum = nllSumByHand(model, ids, slidingWindows(40, 16, 8));
  CHECK(r.mean_nll == doctest::Approx(sum / 39).epsilon(1e-5));
  CHECK(r.perplexity == doctest::Approx(std::exp(sum / 39)).epsilon(1e-5));
}

TEST_CASE("perplexity of stories260K on its own sampled text") {
  const ReferenceModel model(loadModel(stories260K()));
  const std::vector<int32_t> ids = readTokenFile(fixture("reference/stories260K_sample.txt"));
  PerplexityOptions o;
  o.ctx = 256;
  const PerplexityResult r = evaluatePerplexity(model, ids, o);
  const double golden = readJson(fixture("reference/stories260K_logits.json"))["sample_mean_nll"];
  CHECK(r.mean_nll == doctest::Approx(golden).epsilon(1e-4));  // one window: same as transformers' loss
  o.ctx = 64;
  o.stride = 32;
  const PerplexityResult shorter = evaluatePerplexity(model, ids, o);
  CHECK(shorter.tokens_scored == 255);
  CHECK(shorter.mean_nll > r.mean_nll * 0.95);  // less context can't help much
  o.ctx = 1024;
  CHECK_THROWS_WITH_AS(evaluatePerplexity(model, ids, o), doctest::Contains("exceeds the model's context of 512"), Error);
}
