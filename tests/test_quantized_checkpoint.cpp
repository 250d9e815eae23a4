// slmc's quantized Hugging Face-style directory: exact round trips of codes, scales, zeros and
// activation quantizers, and the errors for damaged or foreign quantized checkpoints.
#include <doctest/doctest.h>

#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "lib/format/checkpoint.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/quantized_checkpoint.h"
#include "lib/format/safetensors.h"
#include "lib/model/model_config.h"
#include "lib/model/random_model.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

ModelConfig tinyConfig(const char* arch) {
  if (std::string(arch) == "gpt2")
    return parseHfConfig(R"({"architectures":["GPT2LMHeadModel"],"n_embd":32,"n_layer":2,"n_head":4,
        "vocab_size":64,"n_positions":32})", "gpt2");
  return parseHfConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":48,
      "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":64,
      "max_position_embeddings":32,"tie_word_embeddings":false})", "llama");
}

// Quantizes every layer weight of `m` with RTN, alternating schemes so every layout is covered.
void quantizeAll(Model& m) {
  const QuantScheme schemes[] = {{4, 16, true}, {3, 0, false}, {2, 16, false}, {8, 0, true},
                                 {5, 16, false}, {6, 0, true},  {5, 0, true},   {6, 16, false}};
  int k = 0;
  std::vector<std::string> targets;
  for (const auto& [name, t] : m.tensors)
    if (t.shape().size() == 2 && name.rfind("model.layers.", 0) == 0) targets.push_back(name);
  for (const std::string& name : targets) {
    const Tensor& t = m.tensors.at(name);
    const std::vector<float> w = t.toFloats();
    m.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), schemes[k++ % std::size(schemes)]));
  }
}

}  // namespace

TEST_CASE("quantized checkpoint: save and load give the same codes, scales, zeros and dequantized weights") {
  for (const std::string arch : {"llama", "gpt2"}) {
    CAPTURE(arch);
    Model m = randomModel(tinyConfig(arch.c_str()), 7);
    quantizeAll(m);
    m.activation_quant[names::layer(0, "self_attn.q_proj.weight")] = ActivationQuant{8, false, 0.0125f};
    m.activation_quant[names::layer(1, "mlp.down_proj.weight")] = ActivationQuant{8, true, 0};
    ScratchDir dir("qckpt-" + arch);
    saveHfDirectory(m, dir / "out");
    const nlohmann::json config = readJson(dir / "out/config.json");
    CHECK(config["quantization_config"]["quant_method"] == "slmc");
    const Model back = loadModel(dir / "out");
    REQUIRE(back.quantized.size() == m.quantized.size());
    for (const auto& [name, q] : m.quantized) {
      CAPTURE(name);
      const QuantizedTensor& b = *back.quantized.at(name);
      CHECK(b.scheme == q->scheme);
      CHECK(b.codes == q->codes);
      CHECK(b.scales == q->scales);
      CHECK(b.zeros == q->zeros);
      const Tensor& t = back.tensors.at(name);
      CHECK(std::memcmp(t.bytes(), m.tensors.at(name).bytes(), t.nbytes()) == 0);
    }
    CHECK(back.activation_quant == m.activation_quant);
    // Float tensors come back bit for bit too.
    for (const auto& [name, t] : m.tensors) {
      CAPTURE(name);
      const Tensor& b = back.tensors.at(name);
      REQUIRE(b.nbytes() == t.nbytes());
      CHECK(std::memcmp(b.bytes(), t.bytes(), t.nbytes()) == 0);
    }
  }
}

TEST_CASE("quantized checkpoint: 4-bit codes are stored packed, two per byte") {
  Model m = randomModel(tinyConfig("llama"), 3);
  const std::string name = names::layer(0, "self_attn.q_proj.weight");
  const Tensor& t = m.tensors.at(name);
  const std::vector<float> w = t.toFloats();
  m.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), {4, 16, true}));
  ScratchDir dir("qckpt-packed");
  saveHfDirectory(m, dir / "out");
  const NamedTensors raw = readSafetensors(dir / "out/model.safetensors");
  bool found = false;
  for (const auto& [n, tensor] : raw.tensors)
    if (n == name + ".qcodes") {
      found = true;
      CHECK(tensor.shape() == Shape{32, 16});  // 32 columns of 4 bits = 16 bytes per row
      CHECK(tensor.dtype() == DType::U8);
    } else {
      CHECK(n != name);  // no float copy of a quantized weight
    }
  CHECK(found);
}

TEST_CASE("quantized checkpoint: damaged or foreign quantization is refused with one line") {
  Model m = randomModel(tinyConfig("llama"), 5);
  quantizeAll(m);
  ScratchDir dir("qckpt-bad");
  saveHfDirectory(m, dir / "out");
  const std::string config_path = dir / "out/config.json";
  const std::string good = readFile(config_path);

  nlohmann::json j = nlohmann::json::parse(good);
  j["quantization_config"]["quant_method"] = "awq";
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "quant_method 'awq' is not supported");

  j = nlohmann::json::parse(good);
  j["quantization_config"]["quant_method"] = "gptq";  // a GPTQ config without its keys
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "GPTQ quantization_config has no 'bits'");

  j = nlohmann::json::parse(good);
  j["quantization_config"]["format_version"] = 99;
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "format version 99 is not supported");

  j = nlohmann::json::parse(good);
  j["quantization_config"]["weights"][names::layer(0, "self_attn.q_proj.weight")]["bits"] = 7;
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "unsupported bit width 7");

  j = nlohmann::json::parse(good);
  j["quantization_config"]["weights"][names::layer(0, "self_attn.q_proj.weight")]["group_size"] = 8;
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "declares group_size 8");

  j = nlohmann::json::parse(good);
  j["quantization_config"]["weights"]["model.layers.0.self_attn.nope.weight"] = {{"bits", 4}, {"group_size", 16}, {"symmetric", true}};
  writeFile(config_path, j.dump());
  checkError(errorOf([&] { loadModel(dir / "out"); }), "no tensor 'model.layers.0.self_attn.nope.weight.qcodes'");
}
