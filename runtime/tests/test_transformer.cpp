// The runtime's decoder and sampler on their own (no LibTorch): the sampler's documented draws on
// hand-made logits, and the decoder's internal consistency on small random packs (one token at
// a time equals a batched prefill, errors name the fix). tests/test_runtime_model.cpp compares
// both with the LibTorch reference.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lib/format/pack_writer.h"
#include "lib/model/random_model.h"
#include "lib/support/error.h"
#include "runtime/sampler.h"
#include "runtime/transformer.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using slmc::test::TinyShape;
using slmc::test::tinyGpt2Config;
using slmc::test::tinyLlamaConfig;
using runtime::Sampler;
using runtime::SamplerOptions;

namespace {

SamplerOptions options(double temperature, int64_t top_k, double top_p, uint64_t seed) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("sampler: greedy is the argmax (lowest id on ties), top-k 1 is greedy at any temperature") {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  Sampler greedy(5, options(0, 0, 1, 0));
  CHECK(greedy.sample(logits.data()) == 1);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sampler top1(5, options(2.0, 1, 1, seed));
    CHECK(top1.sample(logits.data()) == 1);
  }
}

TEST_CASE("sampler: draws follow the softmax, top-k and top-p cut the tail, a seed repeats") {
  // Probabilities at T = 1: 0.5, 0.3, 0.2 (and 0 for a -inf logit).
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f), -INFINITY};
  const auto counts = [&](const SamplerOptions& o) {
    Sampler s(4, o);
    std::vector<int> n(4, 0);
    for (int i = 0; i < 4000; ++i) ++n[static_cast<size_t>(s.sample(logits.data()))];
    return n;
  };
  const std::vector<int> all = counts(options(1, 0, 1, 7));
  CHECK(all[0] == doctest::Approx(2000).epsilon(0.08));
  CHECK(all[1] == doctest::Approx(1200).epsilon(0.1));
  CHECK(all[2] == doctest::Approx(800).epsilon(0.12));
  CHECK(all[3] == 0);
  CHECK(counts(options(1, 0, 1, 7)) == all);
  CHECK(counts(options(1, 0, 1, 8)) != all);

  const std::vector<int> k2 = counts(options(1, 2, 1, 7));
  CHECK(k2[2] == 0);
  CHECK(k2[0] == doctest::Approx(2500).epsilon(0.08));  // 0.5 / 0.8
  const std::vector<int> p05 = counts(options(1, 0, 0.5, 7));
  CHECK(p05[0] == 4000);  // the most likely token alone holds 0.5
  const std::vector<int> p06 = counts(options(1, 0, 0.6, 7));
  CHECK(p06[2] == 0);
  CHECK(p06[0] + p06[1] == 4000);
}

TEST_CASE("sampler: bad options are rejected naming the option") {
  CHECK(errorOf([] { Sampler(4, options(-1, 0, 1, 0)); }).find("--temperature") != std::string::npos);
  CHECK(errorOf([] { Sampler(4, options(NAN, 0, 1, 0)); }).find("--temperature") != std::string::npos);
  CHECK(errorOf([] { Sampler(4, options(1, -2, 1, 0)); }).find("--top-k") != std::string::npos);
  CHECK(errorOf([] { Sampler(4, options(1, 0, 0, 0)); }).find("--top-p") != std::string::npos);
  CHECK(errorOf([] { Sampler(4, options(1, 0, 1.5, 0)); }).find("--top-p") != std::string::npos);
}

TEST_CASE("transformer: one token at a time equals a batched prefill on random Llama and GPT-2 packs") {
  const std::string dir = std::filesystem::absolute("scratch-rt-transformer-" + std::to_string(::getpid())).string();
  std::filesystem::create_directories(dir);
  TinyShape shape{32, 48, 2, 4, 2, 8, 64, 100};
  const ModelConfig llama = tinyLlamaConfig(shape), gpt2 = tinyGpt2Config(2, 64, 100, 32, 8);
  for (const ModelConfig& c : {llama, gpt2}) {
    CAPTURE(c.architecture);
    const std::string path = dir + "/" + c.model_type + ".slmc";
    writePack(randomModel(c, 11), path, {"random", "", "", "test"});
    runtime::Transformer t = runtime::Transformer::open(path);
    CHECK(t.context() == 100);
    CHECK(t.weightBytesPerToken() > 0);
    const int64_t n = 80, vocab = c.vocab_size;
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>((i * 13 + 5) % vocab);
    std::vector<float> all(static_cast<size_t>(n * vocab));
    t.prefill(ids.data(), n, all.data());
    CHECK(t.position() == n);
    t.reset();
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* l = t.step(ids[static_cast<size_t>(i)]);
      for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(double(l[v]) - all[i * vocab + v]));
    }
    CHECK(worst < 1e-5);

    // The cache is full at the context; a wrong id names the vocabulary.
    t.reset();
    std::vector<int32_t> long_ids(101, 1);
    CHECK(errorOf([&] { t.prefill(long_ids.data(), 101); }).find("exceeds the model's context of 100") !=
          std::string::npos);
    CHECK(errorOf([&] { t.step(-1); }).find("outside the vocabulary") != std::string::npos);
    runtime::Transformer capped = runtime::Transformer::open(path, 16);
    CHECK(capped.context() == 16);
  }
  CHECK(errorOf([&] { runtime::Transformer::open(dir + "/missing.slmc"); }) != "no error");
  std::filesystem::remove_all(dir);
}
