// Model surgery (lib/model/model_surgery.h) on tiny random models: the sliced tensors are exactly the
// kept rows/columns, config.json describes the result, removing parts that contribute nothing
// leaves the reference logits unchanged, and bad requests are refused leaving the model intact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lib/model/model_surgery.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "tests/model_edits.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// Row r of a 2-D (or element r of a 1-D) float tensor.
std::vector<float> rowOf(const Tensor& t, int64_t r) {
  const int64_t width = t.shape().size() == 2 ? t.dim(1) : 1;
  const std::vector<float> v = t.toFloats();
  return {v.begin() + r * width, v.begin() + (r + 1) * width};
}
std::vector<float> columnOf(const Tensor& t, int64_t c) {
  const std::vector<float> v = t.toFloats();
  std::vector<float> col;
  for (int64_t r = 0; r < t.dim(0); ++r) col.push_back(v[static_cast<size_t>(r * t.dim(1) + c)]);
  return col;
}

ModelConfig roundTrip(const ModelConfig& c) { return parseHfConfig(hfConfigJson(c), "config.json"); }

ModelConfig qwenWithBiases(int64_t layers) {
  TinyShape s;
  s.layers = layers;
  s.heads = 4;
  s.kv_heads = 2;
  ModelConfig c = tinyLlamaConfig(s);
  // Qwen2: biases on q/k/v only, and config.json round-trips them.
  c.architecture = "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.qkv_bias = true;
  return c;
}

std::string attn(int64_t layer, const std::string& rest) { return names::layer(layer, "self_attn." + rest); }
std::string mlp(int64_t layer, const std::string& rest) { return names::layer(layer, "mlp." + rest); }

}  // namespace

TEST_CASE("model surgery: keeping attention heads slices q/k/v rows and o_proj columns, config.json matches") {
  const Model original = randomModel(qwenWithBiases(2), 3);
  Model m = original;
  // Layer 0: one head from each group (GQA ratio 2 -> 1); layer 1 likewise, other heads.
  keepAttentionHeads(m, {{{0, 1}, {1, 2}}, {{1, 0}, {3, 0}}});  // unsorted input is accepted
  validateModel(m);
  CHECK(m.config.num_heads == 2);
  CHECK(m.config.num_kv_heads == 2);
  CHECK(m.config.head_dim == 8);
  CHECK(m.config.hidden_size == 32);
  const ModelConfig back = roundTrip(m.config);
  CHECK(back.num_heads == 2);
  CHECK(back.num_kv_heads == 2);
  CHECK(back.head_dim == 8);
  CHECK(back.hidden_size == 32);
  CHECK(back.qkv_bias);

  const int64_t hd = 8;
  const auto checkHeads = [&](int64_t layer, const std::vector<int64_t>& q_heads) {
    for (size_t j = 0; j < q_heads.size(); ++j)
      for (int64_t d = 0; d < hd; ++d) {
        const int64_t from = q_heads[j] * hd + d, to = static_cast<int64_t>(j) * hd + d;
        CHECK(rowOf(m.tensors.at(attn(layer, "q_proj.weight")), to) ==
              rowOf(original.tensors.at(attn(layer, "q_proj.weight")), from));
        CHECK(rowOf(m.tensors.at(attn(layer, "q_proj.bias")), to) ==
              rowOf(original.tensors.at(attn(layer, "q_proj.bias")), from));
        CHECK(columnOf(m.tensors.at(attn(layer, "o_proj.weight")), to) ==
              columnOf(original.tensors.at(attn(layer, "o_proj.weight")), from));
      }
  };
  checkHeads(0, {1, 2});
  checkHeads(1, {0, 3});
  // Both groups kept: k/v unchanged.
  for (const char* kv : {"k_proj.weight", "v_proj.bias"})
    CHECK(m.tensors.at(attn(1, kv)).toFloats() == original.tensors.at(attn(1, kv)).toFloats());

  // Whole groups: keep group 1 in layer 0, group 0 in layer 1 (ratio stays 2).
  Model g = original;
  keepAttentionHeads(g, {{{1}, {2, 3}}, {{0}, {0, 1}}});
  validateModel(g);
  CHECK(g.config.num_heads == 2);
  CHECK(g.config.num_kv_heads == 1);
  CHECK(g.tensors.at(attn(0, "k_proj.weight")).shape() == Shape{8, 32});
  for (int64_t d = 0; d < hd; ++d) {
    CHECK(rowOf(g.tensors.at(attn(0, "v_proj.weight")), d) == rowOf(original.tensors.at(attn(0, "v_proj.weight")), hd + d));
    CHECK(rowOf(g.tensors.at(attn(0, "k_proj.bias")), d) == rowOf(original.tensors.at(attn(0, "k_proj.bias")), hd + d));
  }
  // Canonical order: the same as a freshly built model of the new config.
  std::vector<std::string> order, expected;
  for (const auto& [name, t] : g.tensors) order.push_back(name);
  for (const auto& spec : expectedTensors(g.config)) expected.push_back(spec.name);
  CHECK(order == expected);
}

TEST_CASE("model surgery: structured pruning keeps outputs identical when the pruned heads/channels are zero to begin with") {
  const int64_t hd = 8;
  const Model random = randomModel(tinyLlamaConfig({32, 48, 2, 4, 2, hd, 64, 32}), 7);

  SUBCASE("one head from every KV group") {
    Model z = random;
    zeroColumns(z, attn(0, "o_proj.weight"), headColumns({1, 2}, hd));
    zeroColumns(z, attn(1, "o_proj.weight"), headColumns({0, 3}, hd));
    Model m = z;
    keepAttentionHeads(m, {{{0, 1}, {0, 3}}, {{0, 1}, {1, 2}}});
    validateModel(m);
    CHECK(m.config.num_heads == 2);
    CHECK(m.config.num_kv_heads == 2);
    CHECK(maxLogitDiff(z, m) <= 1e-5);
  }
  SUBCASE("whole KV groups") {
    Model z = random;
    zeroColumns(z, attn(0, "o_proj.weight"), headColumns({2, 3}, hd));
    zeroColumns(z, attn(1, "o_proj.weight"), headColumns({0, 1}, hd));
    Model m = z;
    keepAttentionHeads(m, {{{0}, {0, 1}}, {{1}, {2, 3}}});
    validateModel(m);
    CHECK(m.config.num_heads == 2);
    CHECK(m.config.num_kv_heads == 1);
    CHECK(maxLogitDiff(z, m) <= 1e-5);
  }
  SUBCASE("MLP channels") {
    Model z = random;
    zeroColumns(z, mlp(0, "down_proj.weight"), {0, 5, 6, 47});
    zeroColumns(z, mlp(1, "down_proj.weight"), {1, 2, 3, 30});
    Model m = z;
    std::vector<int64_t> keep0, keep1;
    for (int64_t c = 0; c < 48; ++c) {
      if (c != 0 && c != 5 && c != 6 && c != 47) keep0.push_back(c);
      if (c != 1 && c != 2 && c != 3 && c != 30) keep1.push_back(c);
    }
    keepFfnChannels(m, {keep0, keep1});
    validateModel(m);
    CHECK(m.config.intermediate_size == 44);
    CHECK(roundTrip(m.config).intermediate_size == 44);
    CHECK(maxLogitDiff(z, m) <= 1e-5);
    // Rows of gate/up and columns of down are the kept channels.
    CHECK(rowOf(m.tensors.at(mlp(0, "gate_proj.weight")), 0) == rowOf(z.tensors.at(mlp(0, "gate_proj.weight")), 1));
    CHECK(rowOf(m.tensors.at(mlp(1, "up_proj.weight")), 1) == rowOf(z.tensors.at(mlp(1, "up_proj.weight")), 4));
    CHECK(columnOf(m.tensors.at(mlp(1, "down_proj.weight")), 0) == columnOf(z.tensors.at(mlp(1, "down_proj.weight")), 0));
  }
}

TEST_CASE("model surgery: removing an identity layer keeps the logits and renumbers the rest") {
  Model original = randomModel(tinyLlamaConfig({32, 48, 3, 4, 2, 8, 64, 32}), 11);
  // Layer 1 adds nothing to the residual stream: no o_proj, no down_proj.
  zeroColumns(original, attn(1, "o_proj.weight"), headColumns({0, 1, 2, 3}, 8));
  std::vector<int64_t> all(48);
  for (int64_t c = 0; c < 48; ++c) all[static_cast<size_t>(c)] = c;
  zeroColumns(original, mlp(1, "down_proj.weight"), all);
  Model m = original;
  removeLayers(m, {1});
  validateModel(m);
  CHECK(m.config.num_layers == 2);
  CHECK(roundTrip(m.config).num_layers == 2);
  CHECK_FALSE(m.tensors.contains(names::layer(2, "input_layernorm.weight")));
  // Old layer 2 is new layer 1, sharing its bytes.
  CHECK(m.tensors.at(attn(1, "q_proj.weight")).bytes() == original.tensors.at(attn(2, "q_proj.weight")).bytes());
  CHECK(m.tensors.at(attn(0, "q_proj.weight")).bytes() == original.tensors.at(attn(0, "q_proj.weight")).bytes());
  CHECK(maxLogitDiff(original, m) <= 1e-5);
  removeLayers(m, {});  // nothing to remove: unchanged
  CHECK(m.config.num_layers == 2);
}

TEST_CASE("model surgery: GPT-2 loses MLP channels and layers, its heads are refused") {
  Model original = randomModel(tinyGpt2Config(3, 64, 32), 13);  // hidden 16, 4 heads, MLP 64
  // Zero channels and an identity layer 2 (randomModel gives linear biases random values too).
  zeroColumns(original, mlp(0, "down_proj.weight"), {3, 9});
  zeroColumns(original, mlp(1, "down_proj.weight"), {0, 63});
  zeroColumns(original, mlp(2, "down_proj.weight"), {10, 11});
  zeroColumns(original, attn(2, "o_proj.weight"), headColumns({0, 1, 2, 3}, 4));
  std::vector<int64_t> all(64);
  for (int64_t c = 0; c < 64; ++c) all[static_cast<size_t>(c)] = c;
  zeroColumns(original, mlp(2, "down_proj.weight"), all);
  for (const char* bias : {"self_attn.o_proj.bias", "mlp.down_proj.bias"})
    original.tensors.set(names::layer(2, bias), Tensor::fromFloats({16}, std::vector<float>(16, 0.0f)));

  Model m = original;
  removeLayers(m, {2});
  const auto keepAllBut = [](std::vector<int64_t> drop) {
    std::vector<int64_t> kept;
    for (int64_t c = 0; c < 64; ++c)
      if (std::find(drop.begin(), drop.end(), c) == drop.end()) kept.push_back(c);
    return kept;
  };
  keepFfnChannels(m, {keepAllBut({3, 9}), keepAllBut({0, 63})});
  validateModel(m);
  CHECK(m.config.num_layers == 2);
  CHECK(m.config.intermediate_size == 62);
  const ModelConfig back = roundTrip(m.config);
  CHECK(back.intermediate_size == 62);
  CHECK(back.num_layers == 2);
  // up_proj's bias follows its rows.
  CHECK(m.tensors.at(mlp(0, "up_proj.bias")).shape() == Shape{62});
  CHECK(maxLogitDiff(original, m) <= 1e-5);

  const std::string err = errorOf([&] { keepAttentionHeads(m, {{{0, 1}, {0, 1}}, {{0, 1}, {0, 1}}}); });
  checkError(err, "GPT-2");
  checkError(err, "head_dim");
}

TEST_CASE("model surgery: half-precision weights keep their dtype and bits") {
  Model m = randomModel(tinyLlamaConfig({32, 48, 1, 4, 2, 8, 64, 32}), 17);
  for (const auto& spec : expectedTensors(m.config)) m.tensors.set(spec.name, m.tensors.at(spec.name).to(DType::BF16));
  const Model original = m;
  keepFfnChannels(m, {{1, 2, 40}});
  keepAttentionHeads(m, {{{1}, {2, 3}}});
  const Tensor& up = m.tensors.at(mlp(0, "up_proj.weight"));
  CHECK(up.dtype() == DType::BF16);
  const Tensor& up0 = original.tensors.at(mlp(0, "up_proj.weight"));
  const size_t row = 32 * 2;
  CHECK(std::memcmp(up.bytes() + 2 * row, up0.bytes() + 40 * row, row) == 0);
  CHECK(m.tensors.at(attn(0, "o_proj.weight")).dtype() == DType::BF16);
  // New head 1 is old head 3: o_proj column 8 was column 24.
  CHECK(columnOf(m.tensors.at(attn(0, "o_proj.weight")), 8) == columnOf(original.tensors.at(attn(0, "o_proj.weight")), 24));
}

TEST_CASE("model surgery: bad requests are refused in one line and leave the model unchanged") {
  const Model original = randomModel(tinyLlamaConfig({32, 48, 2, 4, 2, 8, 64, 32}), 19);
  Model m = original;
  const auto unchanged = [&] {
    CHECK(m.config.num_heads == original.config.num_heads);
    CHECK(m.config.num_layers == original.config.num_layers);
    CHECK(m.config.intermediate_size == original.config.intermediate_size);
    CHECK(m.tensors.at(attn(0, "q_proj.weight")).bytes() == original.tensors.at(attn(0, "q_proj.weight")).bytes());
  };
  const std::vector<int64_t> some = {0, 1, 2};

  checkError(errorOf([&] { removeLayers(m, {0, 1}); }), "leaves no model");
  checkError(errorOf([&] { removeLayers(m, {2}); }), "layer 2 is out of range");
  checkError(errorOf([&] { removeLayers(m, {1, 1}); }), "listed twice");
  checkError(errorOf([&] { keepFfnChannels(m, {some}); }), "one per layer");
  checkError(errorOf([&] { keepFfnChannels(m, {some, {0, 1}}); }), "same number in every layer");
  checkError(errorOf([&] { keepFfnChannels(m, {some, {0, 1, 48}}); }), "layer 1 MLP channel 48 is out of range");
  checkError(errorOf([&] { keepFfnChannels(m, {{}, {}}); }), "keeps no channels");
  // Query head 2 reads group 1, which is not kept.
  checkError(errorOf([&] { keepAttentionHeads(m, {{{0}, {0, 2}}, {{0}, {0, 1}}}); }), "not kept");
  // Group 0 keeps two heads, group 1 none: not a grouped-query layout.
  checkError(errorOf([&] { keepAttentionHeads(m, {{{0, 1}, {0, 1}}, {{0, 1}, {0, 2}}}); }), "every kept group must keep");
  checkError(errorOf([&] { keepAttentionHeads(m, {{{0, 1}, {0, 2}}, {{0}, {0}}}); }), "same numbers in every layer");
  checkError(errorOf([&] { keepAttentionHeads(m, {{{0, 1}, {0, 2}}, {{0, 1}, {0, 4}}}); }), "query head 4 is out of range");
  unchanged();

  // Quantized, activation-quantized and sparse models: structured surgery must come first.
  Model q = original;
  const Tensor& w = q.tensors.at(attn(0, "q_proj.weight"));
  q.setQuantized(attn(0, "q_proj.weight"), quantizeRtn(w.toFloats().data(), w.dim(0), w.dim(1), QuantScheme{4, 32, true}));
  checkError(errorOf([&] { keepFfnChannels(q, {some, some}); }), "put it first in the pipeline");
  checkError(errorOf([&] { removeLayers(q, {0}); }), "quantized weights");
  Model a = original;
  a.activation_quant[attn(0, "q_proj.weight")] = ActivationQuant{};
  checkError(errorOf([&] { keepAttentionHeads(a, {{{0, 1}, {0, 2}}, {{0, 1}, {0, 2}}}); }), "activation quantizers");
  Model s = original;
  s.sparsity[mlp(0, "up_proj.weight")] = SparsityInfo{0, 0, 0.5, "magnitude"};
  const std::string err = errorOf([&] { removeLayers(s, {0}); });
  checkError(err, "sparsity");
  checkError(err, "before quantization and unstructured pruning");
  CHECK(s.config.num_layers == 2);
}
