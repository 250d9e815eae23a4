#include <doctest/doctest.h>

#include <algorithm>

#include "datasets/sample_builder.h"
#include "datasets/sampler.h"
#include "lib/support/error.h"
#include "tests/byte_tokenizer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

// Golden values below come from an independent Python implementation of mt19937_64 and of the
// algorithm spelled out in datasets/sampler.h.
TEST_CASE("dataset sampler: the engine is the standard mt19937_64") {
  std::mt19937_64 rng;  // default seed 5489
  CHECK(rng() == 14514284786278117030ull);
  rng.discard(9998);
  CHECK(rng() == 9981545732273789042ull);  // the value the C++ standard requires
}

TEST_CASE("dataset sampler: uniformBelow golden draws, range and balance") {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> draws;
  for (int i = 0; i < 5; ++i) draws.push_back(uniformBelow(rng, 10));
  CHECK(draws == std::vector<uint64_t>{6, 4, 0, 2, 1});
  std::mt19937_64 rng2(42);
  CHECK(uniformBelow(rng2, 1000003) == 934706);
  CHECK(uniformBelow(rng2, 1000003) == 854435);
  CHECK(uniformBelow(rng2, 1) == 0);
  // Near 2^63 + 1 about half of all 64-bit values are rejected; results must stay below n.
  const uint64_t big = (uint64_t{1} << 63) + 1;
  for (int i = 0; i < 100; ++i) CHECK(uniformBelow(rng2, big) < big);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) ++counts[uniformBelow(rng2, 6)];
  for (int c : counts) CHECK(std::abs(c - 10000) < 500);  // ~5 sigma
  CHECK_THROWS_AS(uniformBelow(rng2, 0), Error);
}

TEST_CASE("dataset sampler: reservoir picks golden indices, same seed same, different seed different") {
  CHECK(sampleIndices(10, 3, 42) == std::vector<int64_t>{0, 1, 3});
  CHECK(sampleIndices(10, 3, 43) == std::vector<int64_t>{0, 1, 9});
  CHECK(sampleIndices(100, 5, 7) == std::vector<int64_t>{16, 23, 81, 86, 88});
  CHECK(sampleIndices(1000, 4, 0) == std::vector<int64_t>{44, 286, 530, 846});
  CHECK(sampleIndices(1000, 4, 0) == sampleIndices(1000, 4, 0));
  CHECK(sampleIndices(1000, 4, 0) != sampleIndices(1000, 4, 1));
  CHECK(sampleIndices(5, 0, 9) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(sampleIndices(5, 5, 9) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(sampleIndices(5, 6, 9), doctest::Contains("only 5 are available"), Error);
  // Every candidate is kept with probability k/n: 2000 seeds x 3 of 10 -> 600 per index.
  std::vector<int> counts(10, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed)
    for (int64_t i : sampleIndices(10, 3, seed)) ++counts[static_cast<size_t>(i)];
  for (int c : counts) CHECK(std::abs(c - 600) < 100);
}

namespace {
// 40 documents "doc NN" -> stream of 40 * 7 ids.
std::string corpus() {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "doc " + std::to_string(10 + i) + "\n\n";
  return text;
}

TokenSamples sampleFile(const std::string& path, int64_t k, int64_t L, uint64_t seed, size_t chunk = 1 << 20) {
  TextSourceOptions text;
  text.chunk_bytes = chunk;
  DocumentReader reader({path}, text);
  const ByteTokenizer tokenizer;
  return sampleTokens(reader, tokenizer, SamplerOptions{k, L, seed});
}
}  // namespace

TEST_CASE("dataset sampler: samples are the stream's chunks at the chosen indices") {
  ScratchDir dir("sampler-tokens");
  writeFile(dir / "c.txt", corpus());
  const ByteTokenizer tokenizer;
  std::vector<int32_t> stream;
  for (int i = 0; i < 40; ++i) {
    stream.push_back(1);
    const auto ids = byteIds("doc " + std::to_string(10 + i));
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  REQUIRE(stream.size() == 280);

  const TokenSamples all = sampleFile(dir / "c.txt", 0, 16, 0);
  CHECK(all.candidates == 17);  // floor(280 / 16)
  CHECK(all.numSamples() == 17);
  CHECK(all.dropped_tail_tokens == 280 - 17 * 16);
  CHECK(all.tokens == 280);
  CHECK(all.documents == 40);
  CHECK(all.ids == std::vector<int32_t>(stream.begin(), stream.begin() + 17 * 16));
  REQUIRE(all.files.size() == 1);
  CHECK(all.files[0].documents == 40);

  const TokenSamples some = sampleFile(dir / "c.txt", 5, 16, 3, 5);
  CHECK(some.candidates == 17);
  CHECK(some.stream_indices == sampleIndices(17, 5, 3));
  REQUIRE(some.ids.size() == 5 * 16);
  for (size_t r = 0; r < 5; ++r) {
    const auto begin = stream.begin() + some.stream_indices[r] * 16;
    CHECK(std::equal(begin, begin + 16, some.ids.begin() + static_cast<std::ptrdiff_t>(r * 16)));
  }
  CHECK(sampleFile(dir / "c.txt", 5, 16, 3).ids == some.ids);
  CHECK(sampleFile(dir / "c.txt", 5, 16, 4).stream_indices != some.stream_indices);
}

TEST_CASE("dataset sampler: asking for more samples than the data provides is an error") {
  ScratchDir dir("sampler-too-many");
  writeFile(dir / "c.txt", corpus());
  CHECK_THROWS_WITH_AS(sampleFile(dir / "c.txt", 18, 16, 0),
                       doctest::Contains("--samples 18 is more than the data provides: 17 samples of 16 tokens"),
                       Error);
  CHECK_THROWS_WITH_AS(sampleFile(dir / "c.txt", 0, 281, 0),
                       doctest::Contains("fewer than one sample of --seq-len 281"), Error);
  CHECK_THROWS_WITH_AS(sampleFile(dir / "c.txt", 3, 281, 0),
                       doctest::Contains("fewer than one sample of --seq-len 281"), Error);
}
