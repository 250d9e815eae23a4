// Calibration sample selection: seeded, in stream order, and a clear error when the data is short.
#include <doctest/doctest.h>

#include <numeric>

#include "datasets/token_source.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("selectSamples: chosen samples are whole seq_len slices of the stream, reproducible per seed") {
  std::vector<int32_t> stream(1000);
  std::iota(stream.begin(), stream.end(), 0);
  const SampleSelection a = selectSamples(stream, 64, 5, 42, "calibration data"), b = selectSamples(stream, 64, 5, 42, "x");
  CHECK(a.available == 15);
  CHECK(a.num_samples == 5);
  CHECK(a.ids == b.ids);
  for (int64_t s = 0; s < 5; ++s) {
    const int32_t first = a.ids[static_cast<size_t>(s * 64)];
    CHECK(first % 64 == 0);  // starts a slice
    for (int64_t t = 0; t < 64; ++t) CHECK(a.ids[static_cast<size_t>(s * 64 + t)] == first + t);
    if (s > 0) CHECK(first > a.ids[static_cast<size_t>((s - 1) * 64)]);  // stream order
  }
  CHECK(selectSamples(stream, 64, 5, 43, "x").ids != a.ids);
  CHECK(selectSamples(stream, 64, 0, 1, "x").num_samples == 15);  // 0: all
  checkError(errorOf([&] { selectSamples(stream, 64, 16, 0, "calibration data"); }),
             "calibration data holds 1000 tokens, 15 samples of 64; 16 were requested");
}
