#include <doctest/doctest.h>

#include <cstring>

#include "lib/format/checkpoint.h"
#include "lib/format/llama2c.h"
#include "lib/model/tensor_ops.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("llama2.c: stories260K header and shared classifier") {
  const Model m = loadModel(stories260K());
  const ModelConfig& c = m.config;
  CHECK(c.architecture == "LlamaForCausalLM");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.tie_word_embeddings);
  CHECK_FALSE(m.tensors.contains("lm_head.weight"));
  CHECK(m.tensors.size() == 1 + 5 * 9 + 1);
  CHECK(m.tensors.at("model.layers.0.self_attn.k_proj.weight").shape() == Shape{32, 64});
}

TEST_CASE("llama2.c: tensors are the file's floats, q/k permuted to rotate-half") {
  const std::string path = stories260K();
  const Model m = loadModel(path);
  auto file = MappedFile::open(path);
  const auto floatAt = [&](size_t index) {
    float f;
    std::memcpy(&f, file->data() + 28 + 4 * index, 4);
    return f;
  };
  // The embedding is the first block; wq of layer 0 follows the 5 attention norms.
  const Tensor& emb = m.tensors.at("model.embed_tokens.weight");
  CHECK(emb.floats()[0] == floatAt(0));
  CHECK(emb.floats()[512 * 64 - 1] == floatAt(512 * 64 - 1));
  const size_t wq0 = 512 * 64 + 5 * 64;
  const Tensor& q = m.tensors.at("model.layers.0.self_attn.q_proj.weight");
  // Row 1 of head 0 in rotate-half layout is interleaved row 2 (pair 1, first element).
  for (int64_t col = 0; col < 64; ++col) CHECK(q.floats()[1 * 64 + col] == floatAt(wq0 + 2 * 64 + col));
  // The permutation is a bijection and its inverse restores the file's layout.
  const Tensor back = halfToInterleavedRotary(q, 8);
  for (int64_t i = 0; i < 64 * 64; ++i) REQUIRE(back.floats()[i] == floatAt(wq0 + static_cast<size_t>(i)));
}

TEST_CASE("llama2.c: truncated, padded and foreign files are rejected") {
  ScratchDir dir("l2c");
  const std::string bytes = readFile(stories260K());
  writeFile(dir / "cut.bin", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH_AS(loadModel(dir / "cut.bin"), doctest::Contains("truncated"), Error);
  writeFile(dir / "long.bin", bytes + std::string(12, '\0'));
  CHECK_THROWS_WITH_AS(loadModel(dir / "long.bin"), doctest::Contains("12 bytes follow the last weight"), Error);
  writeFile(dir / "text.bin", "this is not a model at all, just some text long enough");
  CHECK_THROWS_WITH_AS(loadModel(dir / "text.bin"), doctest::Contains("not a model slmc can read"), Error);
  std::string v2 = std::string("\x32\x34\x6b\x61", 4) + std::string("\x02\0\0\0", 4) + std::string(300, '\0');
  writeFile(dir / "v2.bin", v2);
  CHECK_THROWS_WITH_AS(loadModel(dir / "v2.bin"), doctest::Contains("format version 2 is not supported"), Error);
  std::string nan = bytes;
  const float bad = std::nanf("");
  std::memcpy(&nan[28 + 4 * 100], &bad, 4);
  writeFile(dir / "nan.bin", nan);
  CHECK_THROWS_WITH_AS(loadModel(dir / "nan.bin"),
                       doctest::Contains("'model.embed_tokens.weight' contains NaN or Inf"), Error);
}
