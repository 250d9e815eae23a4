// Sizes a checkpoint's config claims are checked against the weights its file holds before
// anything is sized from them, and every config field has the right kind: damaged config.json
// fields, llama2.c headers and safetensors shapes end in one error line naming the field, with
// bounded memory (checked under `ulimit -v`), never std::bad_alloc or an out-of-memory kill.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lib/format/checkpoint.h"
#include "lib/model/config_bounds.h"
#include "lib/model/model_config.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A copy of the tiny Llama fixture whose config.json has `edit` applied.
std::string editedHfDir(const ScratchDir& dir, const std::string& name, const std::function<void(json&)>& edit) {
  const std::string out = dir / name;
  fs::create_directories(out);
  const std::string src = fixture("reference/tiny-llama-bf16");
  fs::copy_file(src + "/model.safetensors", out + "/model.safetensors");
  json config = readJson(src + "/config.json");
  edit(config);
  writeFile(out + "/config.json", config.dump(2));
  return out;
}

const char* kTinyLlama = R"({"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":48,
    "num_hidden_layers":2,"num_attention_heads":4,"vocab_size":64,"max_position_embeddings":32})";

std::string withField(const char* key, const json& value) {
  json j = json::parse(kTinyLlama);
  j[key] = value;
  return j.dump();
}

}  // namespace

TEST_CASE("config bounds: a config claiming absurd sizes is refused before anything is allocated") {
  ScratchDir dir("config-bounds");
  for (const int64_t layers : {int64_t{1000000000}, int64_t{1000000}, int64_t{3}}) {
    const std::string model = editedHfDir(dir, "layers-" + std::to_string(layers), [&](json& c) {
      c["num_hidden_layers"] = layers;
    });
    const CommandResult r = runSlmc("inspect " + model);
    if (layers == 3) {
      expectError(r, "missing tensor 'model.layers.2.input_layernorm.weight'");
    } else if (layers == 1000000000) {
      expectError(r, "num_hidden_layers 1000000000 is implausibly large (at most 16777216)");
    } else {
      expectError(r, "num_hidden_layers is 1000000 but the weights hold only 20 tensors");
    }
    CHECK(r.err.find("bad_alloc") == std::string::npos);
  }
  // Dimensions: more parameters than the file's bytes could hold at one bit each.
  const std::string wide = editedHfDir(dir, "wide", [](json& c) {
    c["hidden_size"] = 65536;
    c["num_attention_heads"] = 4;
    c["num_key_value_heads"] = 4;
  });
  expectError(runSlmc("inspect " + wide), "parameters (num_hidden_layers 2, hidden_size 65536");
  expectError(runSlmc("inspect " + wide), "but the weights hold only");
}

TEST_CASE("config bounds: loading absurd configs stays within a small memory limit") {
  ScratchDir dir("config-bounds-mem");
  const std::string model = editedHfDir(dir, "m", [](json& c) { c["num_hidden_layers"] = 1000000; });
  // `ulimit -v` caps the address space of the shell and slmc: before the bound, 1e6 layers of
  // expected tensors needed more than 1.6 GB on top of LibTorch's mappings.
  const std::string cmd = "sh -c 'ulimit -v 3000000; exec " + std::string(SLMC_BINARY) + " inspect " + model +
                          "' >" + (dir / "out") + " 2>" + (dir / "err");
  const int status = std::system(cmd.c_str());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  const std::string err = readFile(dir / "err");
  CHECK_MESSAGE(err.find("num_hidden_layers is 1000000 but the weights hold only") != std::string::npos, err);
  CHECK(countLines(err) == 1);
}

TEST_CASE("config bounds: every config.json field is checked for its kind and range") {
  CHECK(parseHfConfig(kTinyLlama, "c.json").num_layers == 2);
  // A number beyond double makes nlohmann throw out_of_range, not parse_error (fuzz: config_json).
  checkError(errorOf([&] { parseHfConfig(R"({"num_hidden_layers": 1e705})", "c.json"); }), "c.json: not valid JSON");
  checkError(errorOf([&] { parseHfConfig(withField("num_hidden_layers", 1e9), "c.json"); }),
             "c.json: \"num_hidden_layers\" has the wrong type: it must be an integer, not 1000000000.0");
  checkError(errorOf([&] { parseHfConfig(withField("hidden_size", 3.7), "c.json"); }),
             "\"hidden_size\" has the wrong type: it must be an integer, not 3.7");
  checkError(errorOf([&] { parseHfConfig(withField("vocab_size", true), "c.json"); }),
             "\"vocab_size\" has the wrong type: it must be an integer, not true");
  checkError(errorOf([&] { parseHfConfig(withField("tie_word_embeddings", 1), "c.json"); }),
             "\"tie_word_embeddings\" has the wrong type: it must be true or false, not 1");
  checkError(errorOf([&] { parseHfConfig(withField("rms_norm_eps", "1e-5"), "c.json"); }),
             "\"rms_norm_eps\" has the wrong type: it must be a finite number");
  checkError(errorOf([&] { parseHfConfig(withField("eos_token_id", json::array({"x"})), "c.json"); }),
             "\"eos_token_id\" has the wrong type");
  checkError(errorOf([&] { parseHfConfig(withField("num_hidden_layers", uint64_t{1} << 63), "c.json"); }),
             "\"num_hidden_layers\" has the wrong type: it must be an integer in range");
  checkError(errorOf([&] { parseHfConfig(withField("vocab_size", int64_t{1} << 40), "c.json"); }),
             "vocab_size 1099511627776 is implausibly large (at most 16777216)");
  checkError(errorOf([&] { parseHfConfig(withField("num_key_value_heads", 8), "c.json"); }),
             "num_key_value_heads (8) exceeds num_attention_heads (4)");
  checkError(errorOf([&] { parseHfConfig(withField("rope_theta", -1.0), "c.json"); }), "rope_theta must be a positive");
  checkError(errorOf([&] { parseHfConfig(withField("rms_norm_eps", 2.0), "c.json"); }), "epsilon must be in (0, 1)");
}

TEST_CASE("config bounds: the implied parameter count saturates instead of overflowing") {
  ModelConfig c = parseHfConfig(kTinyLlama, "c.json");
  // 2 layers of q,k,v,o (32x32 each) and a gated MLP (3 x 48x32), embedding and head 64x32.
  CHECK(impliedParameterCount(c) == 2 * (4 * 32 * 32 + 3 * 48 * 32) + 2 * 64 * 32);
  c.hidden_size = c.intermediate_size = c.vocab_size = int64_t{1} << 40;
  c.head_dim = int64_t{1} << 40;
  CHECK(impliedParameterCount(c) == UINT64_MAX);
  checkError(errorOf([&] { checkConfigFitsWeights(c, 100, 1000, "m"); }), "implies more than 2^64 parameters");
}

TEST_CASE("config bounds: llama2.c header errors name the field") {
  ScratchDir dir("l2c-fields");
  const std::string bytes = readFile(stories260K());
  const auto withHeaderField = [&](int index, int32_t value) {
    std::string b = bytes;
    std::memcpy(&b[4 * index], &value, 4);
    return b;
  };
  writeFile(dir / "layers.bin", withHeaderField(2, 5000));
  checkError(errorOf([&] { loadModel(dir / "layers.bin"); }), "header's n_layers 5000 (expected 1..1024) is implausible");
  writeFile(dir / "dim.bin", withHeaderField(0, -3));
  checkError(errorOf([&] { loadModel(dir / "dim.bin"); }), "header's dim -3 (expected 1..65536)");
  writeFile(dir / "kv.bin", withHeaderField(4, 3));  // 8 heads, 3 kv heads
  checkError(errorOf([&] { loadModel(dir / "kv.bin"); }), "n_heads 8 is not a multiple of n_kv_heads 3");
  // A plausible header that claims more than the file holds, refused from the file size.
  writeFile(dir / "wide.bin", withHeaderField(2, 1000));
  checkError(errorOf([&] { loadModel(dir / "wide.bin"); }),
             "the config implies 45344768 parameters (n_layers 1000, dim 64, hidden_dim 172, vocab_size 512) but the "
             "weights hold only 1056512 bytes");
}

TEST_CASE("config bounds: safetensors sizes that overflow are reported as such, not as 0") {
  ScratchDir dir("st-overflow");
  const std::string header = R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  writeFile(dir / "model.safetensors", bytes + header);
  writeFile(dir / "config.json", readFile(fixture("reference/tiny-llama-bf16/config.json")));
  checkError(errorOf([&] { loadModel(dir.path()); }), "F32 needs more than 2^64 (the file is corrupt)");
}

TEST_CASE("cli: --threads is bounded and explained in one line") {
  for (const char* bad : {"100000", "-1", "many"}) {
    const CommandResult r = runSlmc(std::string("--threads ") + bad + " inspect " + stories260K());
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(std::string("--threads: ") + bad + " is not a thread count: give 0 (all cores) to") !=
                      std::string::npos,
                  r.err);
    CHECK_MESSAGE(countLines(r.err) <= 2, r.err);  // CLI11 adds "Run with --help for more information."
    CHECK(r.err.size() < 300);
  }
  CHECK(runSlmc("--threads 1 inspect " + stories260K()).exit_code == 0);
}
