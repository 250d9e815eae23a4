// Llama GGUF import: metadata to ModelConfig, tensor names and dims to Hugging Face's, q/k rows
// back to rotate-half (against goldens the gguf package and convert_hf_to_gguf.py's permute
// give), the real SmolLM2-135M GGUF, and models slmc must refuse.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "lib/format/checkpoint.h"
#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/model/model_config.h"
#include "lib/support/error.h"
#include "tests/gguf_builder.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::gguf;
using namespace slmc::test;

namespace {

std::string tinyLlama() { return fixture("gguf/tiny_llama.gguf"); }
std::string smollm2() {
  return realFile(modelsDir() + "/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf", "SLMC_MODELS");
}

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The minimal llama header the bad-model cases start from (one layer, hidden 32, 2 heads).
GgufBuilder llamaHeader(const std::string& arch = "llama") {
  GgufBuilder b;
  b.string("general.architecture", arch);
  b.uint32(arch + ".block_count", 1).uint32(arch + ".embedding_length", 32).uint32(arch + ".feed_forward_length", 32);
  b.uint32(arch + ".attention.head_count", 2).uint32(arch + ".context_length", 16);
  b.float32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  b.f32("token_embd.weight", {32, 8});
  return b;
}

std::string loadError(const std::string& bytes) {
  ScratchDir dir("gguf-model-bad");
  writeFile(dir / "m.gguf", bytes);
  return errorOf([&] { loadModel(dir / "m.gguf"); });
}

}  // namespace

TEST_CASE("gguf model: the tiny llama's config comes from llama.* metadata") {
  const Model m = loadModel(tinyLlama());
  const ModelConfig& c = m.config;
  CHECK(m.source == tinyLlama());
  CHECK(c.architecture == "LlamaForCausalLM");
  CHECK(c.model_type == "llama");
  CHECK(c.num_layers == 1);
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 64);
  CHECK(c.num_heads == 4);
  CHECK(c.num_kv_heads == 2);
  CHECK(c.head_dim == 16);
  CHECK(c.vocab_size == 64);
  CHECK(c.max_position_embeddings == 128);
  CHECK(c.norm_eps == static_cast<double>(1e-6f));  // the float32 widened exactly
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.bos_token_id == 3);
  CHECK(c.eos_token_id == 4);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(m.tensors.size() == 1 + 9 + 2);
}

TEST_CASE("gguf model: tensors get Hugging Face names, PyTorch shapes and rotate-half q/k rows") {
  const Model m = loadModel(tinyLlama());
  const auto f = GgufFile::open(tinyLlama());
  // q (Q4_1) then k (Q8_0): the gguf package's dequantization of the unpermuted rows.
  const std::string golden = readFile(fixture("gguf/tiny_llama_qk.f32"));
  REQUIRE(golden.size() == (64 * 64 + 32 * 64) * 4);
  const Tensor& q = m.tensors.at("model.layers.0.self_attn.q_proj.weight");
  const Tensor& k = m.tensors.at("model.layers.0.self_attn.k_proj.weight");
  REQUIRE(q.shape() == Shape{64, 64});
  REQUIRE(k.shape() == Shape{32, 64});
  CHECK(std::memcmp(q.floats(), golden.data(), 64 * 64 * 4) == 0);
  CHECK(std::memcmp(k.floats(), golden.data() + 64 * 64 * 4, 32 * 64 * 4) == 0);

  // Other weights are the file's values as they are, dims reversed.
  const Tensor& v = m.tensors.at("model.layers.0.self_attn.v_proj.weight");
  CHECK(v.shape() == Shape{32, 64});
  CHECK(v.toFloats() == dequantizeTensor(*f->findTensor("blk.0.attn_v.weight")));
  CHECK(m.tensors.at("lm_head.weight").toFloats() == dequantizeTensor(*f->findTensor("output.weight")));
  CHECK(m.tensors.at("model.embed_tokens.weight").shape() == Shape{64, 64});
  CHECK(m.tensors.at("model.norm.weight").toFloats() == dequantizeTensor(*f->findTensor("output_norm.weight")));
  // F16 stays F16, byte for byte.
  const Tensor& down = m.tensors.at("model.layers.0.mlp.down_proj.weight");
  CHECK(down.dtype() == DType::F16);
  const TensorInfo* down_info = f->findTensor("blk.0.ffn_down.weight");
  CHECK(std::memcmp(down.bytes(), down_info->data, down_info->bytes) == 0);
  // Canonical order, as every other reader gives.
  CHECK(m.tensors.begin()->first == "model.embed_tokens.weight");
}

TEST_CASE("gguf model: GGUF tensor names map to Hugging Face's") {
  CHECK(hfTensorName("token_embd.weight") == "model.embed_tokens.weight");
  CHECK(hfTensorName("output_norm.weight") == "model.norm.weight");
  CHECK(hfTensorName("output.weight") == "lm_head.weight");
  CHECK(hfTensorName("blk.12.attn_output.weight") == "model.layers.12.self_attn.o_proj.weight");
  CHECK(hfTensorName("blk.0.ffn_norm.weight") == "model.layers.0.post_attention_layernorm.weight");
  CHECK(hfTensorName("blk.3.attn_norm.weight") == "model.layers.3.input_layernorm.weight");
  CHECK(hfTensorName("blk.1.ffn_gate.weight") == "model.layers.1.mlp.gate_proj.weight");
  CHECK_FALSE(hfTensorName("blk.x.attn_q.weight").has_value());
  CHECK_FALSE(hfTensorName("blk.01.attn_q.weight").has_value());
  CHECK_FALSE(hfTensorName("blk.0.attn_q.bias").has_value());
  CHECK_FALSE(hfTensorName("rope_freqs.weight").has_value());
}

TEST_CASE("gguf model: the real SmolLM2-135M GGUF matches its config.json and the gguf package") {
  const std::string path = smollm2();
  const Model m = loadModel(path);
  const std::string dir = modelsDir() + "/smollm2-135m-instruct/config.json";
  const ModelConfig hf = parseHfConfig(readFile(dir), dir);
  const ModelConfig& c = m.config;
  CHECK(c.num_layers == hf.num_layers);
  CHECK(c.hidden_size == hf.hidden_size);
  CHECK(c.intermediate_size == hf.intermediate_size);
  CHECK(c.num_heads == hf.num_heads);
  CHECK(c.num_kv_heads == hf.num_kv_heads);
  CHECK(c.head_dim == hf.head_dim);
  CHECK(c.vocab_size == hf.vocab_size);
  CHECK(c.max_position_embeddings == hf.max_position_embeddings);
  CHECK(c.norm_eps == hf.norm_eps);
  CHECK(c.rope_theta == hf.rope_theta);
  CHECK(c.tie_word_embeddings == hf.tie_word_embeddings);
  CHECK(c.bos_token_id == hf.bos_token_id);
  CHECK(c.eos_token_id == hf.eos_token_id);
  CHECK(c.tie_word_embeddings);
  CHECK(m.tensors.size() == 272);

  const nlohmann::json spots = readJson(fixture("gguf/smollm2_spot.json"));
  REQUIRE(spots["spots"].size() >= 10);
  for (const auto& s : spots["spots"]) {
    const Tensor& t = m.tensors.at(s["hf"].get<std::string>());
    REQUIRE(t.dtype() == DType::F32);
    const int64_t row = s["row"].get<int64_t>();
    const float* values = t.floats() + row * t.dim(1);
    for (size_t i = 0; i < s["values"].size(); ++i) {
      CAPTURE(s["hf"].get<std::string>());
      CAPTURE(row);
      CAPTURE(i);
      CHECK(bitsOf(values[i]) == std::stoul(s["values"][i].get<std::string>(), nullptr, 16));
    }
  }
}

TEST_CASE("gguf model: non-llama architectures, unknown and missing tensors are refused by name") {
  checkError(loadError(llamaHeader("qwen2").bytes()),
             "GGUF architecture 'qwen2' is not supported yet; slmc reads llama");
  checkError(errorOf([&] { loadModel(fixture("gguf/all_types.gguf")); }), "GGUF architecture 'test' is not supported");
  checkError(loadError(llamaHeader().f32("rope_freqs.weight", {8}).bytes()),
             "tensor 'rope_freqs.weight' holds RoPE frequency factors");
  checkError(loadError(llamaHeader().f32("blk.0.attn_q_norm.weight", {16}).bytes()),
             "tensor 'blk.0.attn_q_norm.weight' is not part of a llama model as slmc reads it");
  checkError(loadError(llamaHeader().bytes()), "missing tensor 'model.layers.0.input_layernorm.weight'");
  GgufBuilder no_heads;
  no_heads.string("general.architecture", "llama").uint32("llama.block_count", 1);
  checkError(loadError(no_heads.bytes()), "missing metadata 'llama.embedding_length'");
  checkError(loadError(llamaHeader().uint32("llama.rope.dimension_count", 8).bytes()),
             "llama.rope.dimension_count is 8 but the head size is 16");
}

TEST_CASE("gguf model: loadModel routes by magic, and a .gguf without it gets GGUF's error") {
  ScratchDir dir("gguf-route");
  writeFile(dir / "model.gguf", "not a gguf at all");
  checkError(errorOf([&] { loadModel(dir / "model.gguf"); }), "model.gguf: not a GGUF file (bad magic");
  writeFile(dir / "renamed.bin", readFile(tinyLlama()));
  CHECK(loadModel(dir / "renamed.bin").config.hidden_size == 64);
  const std::string truncated = readFile(tinyLlama()).substr(0, 21000);
  checkError(loadError(truncated), "m.gguf: tensor 'blk.0.ffn_down.weight' data (bytes");
}

TEST_CASE("gguf model: slmc inspect reads a GGUF, and refuses a non-llama one in one line") {
  const CommandResult ok = runSlmc("inspect " + tinyLlama());
  CHECK(ok.exit_code == 0);
  CHECK_MESSAGE(ok.out.find("layers       1, hidden 64, mlp 64") != std::string::npos, ok.out);
  CHECK_MESSAGE(ok.out.find("heads        4 q / 2 kv, head_dim 16") != std::string::npos, ok.out);
  expectError(runSlmc("inspect " + fixture("gguf/all_types.gguf")),
              "GGUF architecture 'test' is not supported yet; slmc reads llama");
}
