// The calibration statistics cache: exact round trip, refusal of a cache made for another model,
// data or pass, and no file left behind by an unfinished write.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/stats_cache.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
LayerStats fakeStats(int64_t layer, int64_t channels, int64_t rows) {
  LayerStats s;
  s.layer = layer;
  for (const char* site : {"attn_in", "mlp_out"}) {
    SiteStats st;
    st.site = site;
    st.linears = {"a." + std::to_string(layer), "b"};
    st.channels = channels;
    st.tokens = 100 + layer;
    for (int64_t i = 0; i < channels * channels; ++i) st.xtx.push_back(0.5f * static_cast<float>(i) + layer);
    for (int64_t i = 0; i < channels; ++i) {
      st.abs_max.push_back(static_cast<float>(i));
      st.abs_sum.push_back(static_cast<float>(3 * i));
    }
    st.sample_rows = rows;
    for (int64_t i = 0; i < rows * channels; ++i) st.sample.push_back(-static_cast<float>(i));
    s.sites.push_back(st);
  }
  return s;
}
}  // namespace

TEST_CASE("stats cache: statistics stored for a key load back exactly for the same key") {
  ScratchDir dir("stats-cache");
  const std::string path = dir / "stats.h5";
  const nlohmann::json key = {{"model_sha256", "abc"}, {"data_sha256", "def"}, {"seed", 0}};
  {
    StatsCache cache(path, key, 2);
    CHECK_FALSE(cache.complete());
    cache.store(fakeStats(0, 4, 3));
    cache.store(fakeStats(1, 4, 0));
    CHECK_FALSE(std::filesystem::exists(path));  // only renamed into place when complete
    cache.save();
  }
  REQUIRE(std::filesystem::exists(path));
  StatsCache again(path, key, 2);
  REQUIRE(again.complete());
  for (int64_t layer : {0, 1}) {
    const LayerStats want = fakeStats(layer, 4, layer == 0 ? 3 : 0), got = again.load(layer);
    REQUIRE(got.sites.size() == want.sites.size());
    for (size_t i = 0; i < want.sites.size(); ++i) {
      CHECK(got.sites[i].site == want.sites[i].site);
      CHECK(got.sites[i].linears == want.sites[i].linears);
      CHECK(got.sites[i].tokens == want.sites[i].tokens);
      CHECK(got.sites[i].xtx == want.sites[i].xtx);
      CHECK(got.sites[i].abs_max == want.sites[i].abs_max);
      CHECK(got.sites[i].abs_sum == want.sites[i].abs_sum);
      CHECK(got.sites[i].sample_rows == want.sites[i].sample_rows);
      CHECK(got.sites[i].sample == want.sites[i].sample);
    }
  }
}

TEST_CASE("stats cache: a cache from another model, data or pass is refused naming the field") {
  ScratchDir dir("stats-cache-key");
  const std::string path = dir / "stats.h5";
  const nlohmann::json key = {{"model_sha256", "abc"}, {"data_sha256", "def"}, {"pass", {{"method", "gptq"}}}};
  {
    StatsCache cache(path, key, 1);
    cache.store(fakeStats(0, 2, 0));
    cache.save();
  }
  nlohmann::json other = key;
  other["model_sha256"] = "xyz";
  checkError(errorOf([&] { StatsCache c(path, other, 1); }), "was computed for another model_sha256");
  other = key;
  other["data_sha256"] = "xyz";
  checkError(errorOf([&] { StatsCache c(path, other, 1); }), "another data_sha256");
  other = key;
  other["pass"]["method"] = "awq";
  checkError(errorOf([&] { StatsCache c(path, other, 1); }), "another pass");
  checkError(errorOf([&] { StatsCache c(path, key, 2); }), "has no layer_001");
  writeFile(dir / "junk.h5", "not hdf5");
  checkError(errorOf([&] { StatsCache c(dir / "junk.h5", key, 1); }), "is not a readable HDF5 file");
}

TEST_CASE("stats cache: an unfinished cache leaves no file behind") {
  ScratchDir dir("stats-cache-partial");
  {
    StatsCache cache(dir / "stats.h5", nlohmann::json{{"k", 1}}, 3);
    cache.store(fakeStats(0, 2, 0));
  }
  CHECK(dir.entries() == 0);
}
