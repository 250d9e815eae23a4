// Packs of float32 and float16 models are the bytes the format wrote before bfloat16 storage was
// added (format version 1 unchanged): SHA-256 of fixed models, recorded once from that writer.
#include <doctest/doctest.h>

#include "datasets/sha256.h"
#include "lib/format/pack_writer.h"
#include "lib/model/model_config.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

Model goldenModel() {
  return randomModel(parseHfConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":48,
      "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":64,
      "max_position_embeddings":32,"tie_word_embeddings":false})", "golden"), 5);
}

std::string packSha256(const Model& m) {
  ScratchDir dir("pack-golden");
  writePack(m, dir / "m.slmc", {"golden", "", "", "test"});
  return sha256Hex(readFile(dir / "m.slmc"));
}

}  // namespace

TEST_CASE("pack golden: float32, float16 and quantized packs keep their bytes") {
  const Model f32 = goldenModel();
  Model f16 = f32;
  for (const auto& [name, t] : f32.tensors) f16.tensors.set(name, t.to(DType::F16));
  Model q = f32;
  const std::string w = names::layer(0, "mlp.up_proj.weight");
  const std::vector<float> values = q.tensors.at(w).toFloats();
  q.setQuantized(w, quantizeRtn(values.data(), 48, 32, QuantScheme{4, 16, false}));
  CHECK(packSha256(f32) == "6e10bbcdfc156c057abeccd0c72c6481ad5da715252abc4eaedd04fb1db54696");
  CHECK(packSha256(f16) == "c864aade733f09f866e81bc638ce15526a83e3f53b239aa11d5c3d371d499d35");
  CHECK(packSha256(q) == "6528269ca37ba6e224c92cbf28a57e90fd359742b20eff57a37151815226f0a0");
}

// Every storage of the type table (runtime/weight_type.h) keeps its bytes: recorded from the
// writer before the three type tables became one.
TEST_CASE("pack golden: bfloat16 and every integer storage keep their bytes") {
  const Model f32 = goldenModel();
  Model bf16 = f32;
  for (const auto& [name, t] : f32.tensors) bf16.tensors.set(name, t.to(DType::BF16));
  CHECK(packSha256(bf16) == "d189fa04c6671d1c38a8519278ff6094d2a80d6cced7af7a540120976c7ef3e3");
  const std::string up = names::layer(0, "mlp.up_proj.weight"), down = names::layer(1, "mlp.down_proj.weight");
  const std::vector<float> up_values = f32.tensors.at(up).toFloats(), down_values = f32.tensors.at(down).toFloats();
  const std::string expected[] = {"3c7b9fd18c541a0ec25b6bea9a785b3a025a2919b5eccbf54c4943e565ce7980",
                                  "36a4b03d11ac462eb0fc12ff43cef98248c8942477cce3a85c0744a0e8bf2391",
                                  "d65c93c670d10ec5fcc73a8c2ac4baacff4357f4aa1022d05725f6a4c5c93c5a"};
  int i = 0;
  for (const int bits : {2, 3, 8}) {
    Model q = f32;
    q.setQuantized(up, quantizeRtn(up_values.data(), 48, 32, QuantScheme{bits, 0, true}));
    q.setQuantized(down, quantizeRtn(down_values.data(), 32, 48, QuantScheme{bits, 16, false}));
    CHECK_MESSAGE(packSha256(q) == expected[i++], bits);
  }
}
