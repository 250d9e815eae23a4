#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "lib/format/checkpoint.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/safetensors.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {
void requireSameTensors(const Model& a, const Model& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    const Tensor* u = b.tensors.find(name);
    REQUIRE_MESSAGE(u != nullptr, name);
    CHECK_MESSAGE(u->dtype() == t.dtype(), name);
    REQUIRE_MESSAGE(u->shape() == t.shape(), name);
    CHECK_MESSAGE(std::memcmp(u->bytes(), t.bytes(), t.nbytes()) == 0, name << " differs");
  }
}

void copyDir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), to + "/" + e.path().filename().string());
}
}  // namespace

TEST_CASE("HF export round-trips the real llama2.c model bit for bit") {
  ScratchDir dir("hf-stories");
  const Model original = loadModel(stories260K());
  saveHfDirectory(original, dir / "out");
  const Model back = loadModel(dir / "out");
  requireSameTensors(original, back);
  CHECK(back.config.tie_word_embeddings);
  CHECK(back.config.num_kv_heads == 4);
  CHECK(back.config.norm_eps == 1e-5);
  const auto config = readJson(dir / "out/config.json");
  CHECK(config["architectures"][0] == "LlamaForCausalLM");
  CHECK(config["num_key_value_heads"] == 4);
}

TEST_CASE("HF round trip: GPT-2 Conv1D layout, sharded Qwen2 and bfloat16 Llama") {
  ScratchDir dir("hf-fixtures");
  for (const char* name : {"tiny-gpt2", "tiny-qwen2", "tiny-llama-bf16"}) {
    CAPTURE(name);
    const Model original = loadModel(fixture(std::string("reference/") + name));
    saveHfDirectory(original, dir / name);
    const Model back = loadModel(dir / name);
    requireSameTensors(original, back);
    CHECK(back.config.architecture == original.config.architecture);
  }
  // GPT-2's exported tensors are byte-identical to the transformers-written originals.
  const NamedTensors ours = readSafetensors(dir / "tiny-gpt2/model.safetensors");
  const NamedTensors theirs = readSafetensors(fixture("reference/tiny-gpt2/model.safetensors"));
  size_t compared = 0;
  for (const auto& [name, t] : theirs.tensors) {
    if (name.find(".attn.bias") != std::string::npos || name.find("masked_bias") != std::string::npos) continue;
    for (const auto& [our_name, u] : ours.tensors) {
      if (our_name != name) continue;
      CHECK_MESSAGE(u.shape() == t.shape(), name);
      CHECK_MESSAGE(std::memcmp(u.bytes(), t.bytes(), t.nbytes()) == 0, name);
      ++compared;
    }
  }
  CHECK(compared == 2 + 2 * 12 + 2);  // wte, wpe, 12 per layer, ln_f weight + bias
  CHECK(loadModel(fixture("reference/tiny-llama-bf16")).tensors.at("model.norm.weight").dtype() == DType::BF16);
}

TEST_CASE("HF directories with problems are rejected naming the problem") {
  ScratchDir dir("hf-bad");
  const std::string src = fixture("reference/tiny-qwen2");

  fs::create_directories(dir / "empty");
  CHECK_THROWS_WITH_AS(loadModel(dir / "empty"), doctest::Contains("has no config.json"), Error);

  fs::create_directories(dir / "bert");
  writeFile(dir / "bert/config.json", R"({"architectures": ["BertForMaskedLM"], "model_type": "bert"})");
  CHECK_THROWS_WITH_AS(loadModel(dir / "bert"), doctest::Contains("unsupported architecture 'BertForMaskedLM'"), Error);

  fs::create_directories(dir / "pickle");
  fs::copy_file(src + "/config.json", dir / "pickle/config.json");
  writeFile(dir / "pickle/pytorch_model.bin", "PK");
  CHECK_THROWS_WITH_AS(loadModel(dir / "pickle"), doctest::Contains("only pytorch_model.bin"), Error);

  // Wrong config for the weights: more layers than the checkpoint has.
  copyDir(src, dir / "layers");
  auto config = readJson(src + "/config.json");
  config["num_hidden_layers"] = 3;
  writeFile(dir / "layers/config.json", config.dump());
  CHECK_THROWS_WITH_AS(loadModel(dir / "layers"), doctest::Contains("missing tensor 'model.layers.2."), Error);

  copyDir(src, dir / "shape");
  config = readJson(src + "/config.json");
  config["intermediate_size"] = 50;
  writeFile(dir / "shape/config.json", config.dump());
  CHECK_THROWS_WITH_AS(loadModel(dir / "shape"), doctest::Contains("has shape [48, 32] but the config implies [50, 32]"),
                       Error);

  copyDir(src, dir / "fewer");
  config = readJson(src + "/config.json");
  config["num_hidden_layers"] = 1;
  writeFile(dir / "fewer/config.json", config.dump());
  CHECK_THROWS_WITH_AS(loadModel(dir / "fewer"), doctest::Contains("unexpected tensor 'model.layers.1."), Error);

  copyDir(src, dir / "nokey");
  config = readJson(src + "/config.json");
  config.erase("hidden_size");
  writeFile(dir / "nokey/config.json", config.dump());
  CHECK_THROWS_WITH_AS(loadModel(dir / "nokey"), doctest::Contains("missing \"hidden_size\""), Error);

  copyDir(src, dir / "gqa");
  config = readJson(src + "/config.json");
  config["num_key_value_heads"] = 3;
  writeFile(dir / "gqa/config.json", config.dump());
  CHECK_THROWS_WITH_AS(loadModel(dir / "gqa"), doctest::Contains("not a multiple of num_key_value_heads"), Error);
}

TEST_CASE("HF export carries the source directory's tokenizer files") {
  ScratchDir dir("hf-tokenizer");
  copyDir(fixture("reference/tiny-gpt2"), dir / "src");
  fs::copy_file(fixture("tokenizers/bytelevel/tokenizer.json"), dir / "src/tokenizer.json");
  saveHfDirectory(loadModel(dir / "src"), dir / "out");
  CHECK(readFile(dir / "out/tokenizer.json") == readFile(dir / "src/tokenizer.json"));
  CHECK(readFile(dir / "out/generation_config.json") == readFile(dir / "src/generation_config.json"));
  CHECK_FALSE(fs::exists(dir / "out/reference_logits.json"));  // only tokenizer/generation files travel
}

TEST_CASE("HF export onto a file fails and writes nothing") {
  ScratchDir dir("hf-atomic");
  writeFile(dir / "taken", "x");
  const Model m = loadModel(fixture("reference/tiny-gpt2"));
  CHECK_THROWS_WITH_AS(saveHfDirectory(m, dir / "taken"), doctest::Contains("exists and is not a directory"), Error);
  CHECK(dir.entries() == 1);
  CHECK(readFile(dir / "taken") == "x");
}
