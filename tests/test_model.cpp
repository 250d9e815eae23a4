#include <doctest/doctest.h>

#include "lib/format/checkpoint.h"
#include "lib/model/model.h"
#include "lib/model/model_config.h"
#include "lib/model/model_summary.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("config.json: Llama, Mistral, Qwen2 and GPT-2 switches") {
  const ModelConfig llama = parseHfConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":2,
      "vocab_size":100,"max_position_embeddings":256,"rms_norm_eps":1e-6,"rope_theta":500000.0,
      "tie_word_embeddings":true,"eos_token_id":[7,8]})", "llama");
  CHECK(llama.family == ArchFamily::Llama);
  CHECK(llama.head_dim == 8);
  CHECK(llama.kvDim() == 16);
  CHECK(llama.rope_theta == 500000.0);
  CHECK(llama.eos_token_id == 7);
  CHECK_FALSE(llama.qkv_bias);

  const ModelConfig qwen = parseHfConfig(R"({"architectures":["Qwen2ForCausalLM"],"hidden_size":32,
      "intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2,
      "vocab_size":10,"max_position_embeddings":32})", "qwen");
  CHECK(qwen.qkv_bias);
  CHECK_FALSE(qwen.o_bias);

  const ModelConfig gpt2 = parseHfConfig(R"({"architectures":["GPT2LMHeadModel"],"n_embd":32,"n_layer":2,
      "n_head":4,"vocab_size":96,"n_positions":64})", "gpt2");
  CHECK(gpt2.norm == NormType::LayerNorm);
  CHECK(gpt2.positions == PositionType::Learned);
  CHECK(gpt2.intermediate_size == 128);
  CHECK(gpt2.tie_word_embeddings);

  CHECK_THROWS_WITH_AS(parseHfConfig(R"({"architectures":["MistralForCausalLM"],"hidden_size":32,
      "intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,
      "max_position_embeddings":4096,"sliding_window":1024})", "m"), doctest::Contains("sliding-window"), Error);
  CHECK_THROWS_WITH_AS(parseHfConfig("{not json", "c.json"), doctest::Contains("c.json: not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(parseHfConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":"big"})", "c.json"),
                       doctest::Contains("\"hidden_size\" has the wrong type"), Error);
}

TEST_CASE("config.json written by slmc parses back to the same config") {
  for (const char* name : {"tiny-gpt2", "tiny-qwen2", "tiny-llama-bf16"}) {
    const ModelConfig c = loadModel(fixture(std::string("reference/") + name)).config;
    const ModelConfig back = parseHfConfig(hfConfigJson(c), "roundtrip");
    CHECK(back.architecture == c.architecture);
    CHECK(back.hidden_size == c.hidden_size);
    CHECK(back.num_kv_heads == c.num_kv_heads);
    CHECK(back.qkv_bias == c.qkv_bias);
    CHECK(back.o_bias == c.o_bias);
    CHECK(back.rope_theta == c.rope_theta);
    CHECK(back.norm_eps == c.norm_eps);
    CHECK(back.tie_word_embeddings == c.tie_word_embeddings);
  }
}

TEST_CASE("inspect summary: parameter counts by kind add up") {
  const Model m = loadModel(stories260K());
  const ModelSummary s = summarize(m);
  // stories260K: 512x64 embedding; per layer attention 64*64*2 + 32*64*2, mlp 3*64*172, norms 2*64.
  CHECK(s.params_by_kind.at("embedding") == 512 * 64);
  CHECK(s.params_by_kind.at("attention") == 5 * (2 * 64 * 64 + 2 * 32 * 64));
  CHECK(s.params_by_kind.at("mlp") == 5 * 3 * 64 * 172);
  CHECK(s.params_by_kind.at("norm") == 5 * 2 * 64 + 64);
  CHECK(s.params_by_kind.at("head") == 0);
  CHECK(s.total_params == 260032);
  CHECK(s.total_bytes == 4 * 260032);
  CHECK(s.bytes_by_dtype.at("F32") == 4 * 260032);
}

TEST_CASE("tensor map keeps insertion order and replaces in place") {
  TensorMap map;
  map.set("b", Tensor::fromFloats({1}, {1}));
  map.set("a", Tensor::fromFloats({1}, {2}));
  map.set("b", Tensor::fromFloats({1}, {3}));
  REQUIRE(map.size() == 2);
  CHECK(map.begin()->first == "b");
  CHECK(map.at("b").floats()[0] == 3);
  CHECK(map.erase("b"));
  CHECK(map.at("a").floats()[0] == 2);
  CHECK_THROWS_WITH_AS(map.at("b"), doctest::Contains("missing tensor 'b'"), Error);
}
