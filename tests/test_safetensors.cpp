#include <doctest/doctest.h>

#include <cstring>

#include "lib/format/safetensors.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// A safetensors file from a raw header text and data section, to build corrupt files on purpose.
std::string rawSafetensors(const std::string& header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(len >> (8 * i));
  return out + header + std::string(data_bytes, '\x01');
}

std::string readError(const std::string& path) {
  return errorOf([&] { readSafetensors(path); });
}
}  // namespace

TEST_CASE("safetensors: write then read round-trips names, dtypes, shapes and bytes") {
  ScratchDir dir("st");
  const Tensor a = Tensor::fromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = a.to(DType::BF16);
  const Tensor c = Tensor::fromFloats({3}, {-1, 0.5f, 7}).to(DType::F16);
  const Tensor empty = Tensor::fromFloats({0, 4}, {});
  writeSafetensors(dir / "t.safetensors", {{"a", a}, {"b.weight", b}, {"c", c}, {"empty", empty}},
                   {{"format", "pt"}});
  const NamedTensors read = readSafetensors(dir / "t.safetensors");
  REQUIRE(read.tensors.size() == 4);
  CHECK(read.metadata.at("format") == "pt");
  const std::vector<std::pair<std::string, Tensor>> expected = {{"a", a}, {"b.weight", b}, {"c", c}, {"empty", empty}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, t] = read.tensors[i];
    CHECK(name == expected[i].first);
    CHECK(t.dtype() == expected[i].second.dtype());
    CHECK(t.shape() == expected[i].second.shape());
    CHECK(std::memcmp(t.bytes(), expected[i].second.bytes(), t.nbytes()) == 0);
  }
  // The header is padded so the data section starts 8-byte aligned.
  const std::string bytes = readFile(dir / "t.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  CHECK(header_len % 8 == 0);
}

TEST_CASE("safetensors: corrupt files are rejected with one clear message each") {
  ScratchDir dir("st-bad");
  const auto check = [&](const std::string& name, const std::string& bytes, const std::string& expected) {
    writeFile(dir / name, bytes);
    checkError(readError(dir / name), expected);
  };
  check("short", "abc", "truncated");
  check("past-eof", rawSafetensors("{}", 0, 1000), "header length 1000 runs past the end");
  check("not-json", rawSafetensors("{\"a\": [", 0), "header is not valid JSON");
  check("dtype", rawSafetensors(R"({"a":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}})", 1),
        "unsupported tensor dtype 'F8_E5M2'");
  check("range", rawSafetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
        "fall outside the 8-byte data section");
  check("size", rawSafetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16),
        "holds 16 bytes but shape [3] of F32 needs 12");
  check("overlap",
        rawSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       12),
        "overlap");
  check("shape", rawSafetensors(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
        "non-integer, negative or impossibly large dimension");
  check("fields", rawSafetensors(R"({"a":{"dtype":"F32"}})", 0), "needs dtype, shape and data_offsets");

  // A real file cut short: the header now points past the end.
  writeSafetensors(dir / "good.safetensors", {{"w", Tensor::fromFloats({64}, std::vector<float>(64, 1.0f))}});
  const std::string good = readFile(dir / "good.safetensors");
  check("cut", good.substr(0, good.size() - 10), "fall outside");
  CHECK(readError(dir / "does-not-exist") .find("cannot open") != std::string::npos);
}

TEST_CASE("safetensors: sharded checkpoints are read through the index") {
  const NamedTensors t = readShardedSafetensors(fixture("reference/tiny-qwen2/model.safetensors.index.json"));
  CHECK(t.tensors.size() == 3 + 2 * 12);  // embed, final norm, lm_head + 12 per layer (q/k/v biases)
  ScratchDir dir("st-index");
  writeSafetensors(dir / "s1.safetensors", {{"a", Tensor::fromFloats({1}, {1})}});
  writeFile(dir / "index.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  CHECK_THROWS_WITH_AS(readShardedSafetensors(dir / "index.json"),
                       doctest::Contains("tensor 'b' is indexed in s1.safetensors but that shard does not contain it"),
                       Error);
  writeFile(dir / "index2.json", R"({"weight_map": {"a": "../s1.safetensors"}})");
  CHECK_THROWS_WITH_AS(readShardedSafetensors(dir / "index2.json"), doctest::Contains("plain file name"), Error);
}

TEST_CASE("safetensors: a failed write leaves no file behind") {
  ScratchDir dir("st-atomic");
  CHECK_THROWS_AS(writeSafetensors(dir / "x.safetensors", {{"__metadata__", Tensor::fromFloats({1}, {1})}}), Error);
  CHECK(dir.entries() == 0);
  CHECK_THROWS_WITH_AS(writeSafetensors(dir / "no/such/dir/x.safetensors", {}), doctest::Contains("cannot write"), Error);
}
