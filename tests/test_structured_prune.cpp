// Structured pruning (passes/prune/structured_prune.h) on tiny random models in which some heads,
// MLP channels or a whole layer contribute nothing: the importance measures must give those
// exactly 0 and pick them, and removing them must leave the reference logits unchanged. Also the
// GQA modes, GPT-2, and the options that are refused before any work.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "lib/model/model_surgery.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "passes/prune/structured_prune.h"
#include "tests/model_edits.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;
using nlohmann::json;

namespace {

std::vector<int64_t> range(int64_t begin, int64_t end, int64_t step = 1) {
  std::vector<int64_t> v;
  for (int64_t i = begin; i < end; i += step) v.push_back(i);
  return v;
}

std::string oProj(int64_t layer) { return names::layer(layer, "self_attn.o_proj.weight"); }
std::string downProj(int64_t layer) { return names::layer(layer, "mlp.down_proj.weight"); }

// 8 query heads in 2 KV groups of 4 (head_dim 4), MLP 48: both GQA modes are reachable.
ModelConfig gqaConfig(int64_t layers) { return tinyLlamaConfig({32, 48, layers, 8, 2, 4, 64, 32}); }

struct Calibration {
  std::vector<int32_t> ids = pseudoRandomIds(4 * 16, 64, 23);
  int64_t samples = 4, seq = 16;
  LayerwiseOptions forward;
};

StructuredPruneOutcome prune(Model& m, const StructuredPruneOptions& o, int64_t* progress_calls = nullptr) {
  const Calibration cal;
  return structuredPrune(m, o, cal.ids, cal.samples, cal.seq, cal.forward, [&](int64_t, int64_t) {
    if (progress_calls) ++*progress_calls;
  });
}

std::vector<int64_t> ints(const json& j) { return j.get<std::vector<int64_t>>(); }

}  // namespace

TEST_CASE("structured prune: whole KV groups that contribute nothing are removed, logits unchanged") {
  Model original = randomModel(gqaConfig(2), 29);
  zeroColumns(original, oProj(0), headColumns(range(4, 8), 4));  // layer 0: group 1
  zeroColumns(original, oProj(1), headColumns(range(0, 4), 4));  // layer 1: group 0
  Model m = original;
  int64_t calls = 0;
  const StructuredPruneOutcome out = prune(m, {0.5, 0, 0}, &calls);  // 4 of 8 heads = one group of 4
  CHECK(calls == 2);
  CHECK(out.warnings.empty());
  validateModel(m);
  CHECK(m.config.num_heads == 4);
  CHECK(m.config.num_kv_heads == 1);
  CHECK(m.config.head_dim == 4);
  const json& f = out.figures;
  CHECK(f["heads"]["mode"] == "whole_groups");
  CHECK(ints(f["per_layer"][0]["removed_kv_groups"]) == std::vector<int64_t>{1});
  CHECK(ints(f["per_layer"][1]["removed_kv_groups"]) == std::vector<int64_t>{0});
  CHECK(ints(f["per_layer"][0]["removed_heads"]) == range(4, 8));
  const std::vector<double> importance = f["per_layer"][0]["head_importance"];
  for (int64_t h = 0; h < 8; ++h) CHECK((importance[static_cast<size_t>(h)] == 0) == (h >= 4));
  CHECK(f["parameters_after"].get<int64_t>() < f["parameters_before"].get<int64_t>());
  CHECK(maxLogitDiff(original, m) <= 1e-5);
}

TEST_CASE("structured prune: one head from every group and zero MLP channels are removed, logits unchanged") {
  Model original = randomModel(gqaConfig(2), 31);
  zeroColumns(original, oProj(0), headColumns({1, 6}, 4));
  zeroColumns(original, oProj(1), headColumns({3, 4}, 4));
  zeroColumns(original, downProj(0), range(0, 24, 2));  // 12 channels = 0.25 of 48
  zeroColumns(original, downProj(1), range(25, 37));
  Model m = original;
  const StructuredPruneOutcome out = prune(m, {0.25, 0.25, 0});  // 2 of 8 heads: one per group
  validateModel(m);
  CHECK(m.config.num_heads == 6);
  CHECK(m.config.num_kv_heads == 2);
  CHECK(m.config.intermediate_size == 36);
  const json& f = out.figures;
  CHECK(f["heads"]["mode"] == "per_group");
  CHECK(ints(f["per_layer"][0]["removed_heads"]) == std::vector<int64_t>{1, 6});
  CHECK(ints(f["per_layer"][1]["removed_heads"]) == std::vector<int64_t>{3, 4});
  CHECK(f["per_layer"][0]["removed_kv_groups"].empty());
  CHECK(ints(f["per_layer"][0]["removed_channels"]) == range(0, 24, 2));
  CHECK(ints(f["per_layer"][1]["removed_channels"]) == range(25, 37));
  CHECK(f["per_layer"][1]["removed_ffn_importance_max"] == 0.0);
  CHECK(f["per_layer"][1]["ffn_importance"]["min"] == 0.0);
  CHECK(f["per_layer"][1]["ffn_importance"]["max"].get<double>() > 0);
  CHECK(maxLogitDiff(original, m) <= 1e-5);
}

TEST_CASE("structured prune: block influence picks the layer that leaves the residual stream unchanged") {
  Model original = randomModel(gqaConfig(3), 37);
  zeroColumns(original, oProj(1), headColumns(range(0, 8), 4));
  zeroColumns(original, downProj(1), range(0, 48));
  Model m = original;
  const StructuredPruneOutcome out = prune(m, {0, 0, 1});
  validateModel(m);
  CHECK(m.config.num_layers == 2);
  const json& f = out.figures;
  CHECK(ints(f["layers_removed"]) == std::vector<int64_t>{1});
  CHECK(f["per_layer"][1]["block_influence"].get<double>() <= 1e-12);
  CHECK(f["per_layer"][0]["block_influence"].get<double>() > 1e-6);
  CHECK(f["per_layer"][2]["block_influence"].get<double>() > 1e-6);
  CHECK(f["per_layer"][2]["new_index"] == 1);
  CHECK(maxLogitDiff(original, m) <= 1e-5);
}

TEST_CASE("structured prune: GPT-2 loses MLP channels and layers, heads are refused") {
  const Model original = randomModel(tinyGpt2Config(3, 64, 32), 41);  // MLP 64, 4 heads
  Model m = original;
  const StructuredPruneOutcome out = prune(m, {0, 0.25, 1});
  validateModel(m);
  CHECK(m.config.num_layers == 2);
  CHECK(m.config.intermediate_size == 48);
  const ModelConfig back = parseHfConfig(hfConfigJson(m.config), "config.json");
  CHECK(back.intermediate_size == 48);
  CHECK(back.num_layers == 2);
  CHECK(out.figures["ffn"]["removed_per_layer"] == 16);
  CHECK(ints(out.figures["layers_removed"]).size() == 1);

  Model g = original;
  const std::string err = errorOf([&] { prune(g, {0.25, 0, 0}); });
  checkError(err, "GPT-2");
  checkError(err, "prune ffn or layers instead");
  CHECK(g.config.num_heads == 4);
}

TEST_CASE("structured prune: impossible or out-of-range options are refused before any work") {
  const Model original = randomModel(gqaConfig(2), 43);
  Model m = original;
  // 1 of 8 heads: neither whole groups (4) nor the same number from each group (2).
  std::string err = errorOf([&] { prune(m, {0.125, 0, 0}); });
  checkError(err, "heads=0.125");
  checkError(err, "2 KV groups of 4 heads");
  checkError(err, "0.25, 0.5, 0.75");
  checkError(errorOf([&] { prune(m, {0.95, 0, 0}); }), "removes all 8 attention heads");
  checkError(errorOf([&] { prune(m, {1.0, 0, 0}); }), "heads=1 is outside [0, 1)");
  checkError(errorOf([&] { prune(m, {0, -0.1, 0}); }), "ffn=-0.1 is outside [0, 1)");
  checkError(errorOf([&] { prune(m, {0, 0.999, 0}); }), "removes all 48 MLP channels");
  checkError(errorOf([&] { prune(m, {0, 0, 2}); }), "layers=2 is outside [0, 1]");
  checkError(errorOf([&] { prune(m, {0, 0, -1}); }), "layers=-1");
  CHECK(m.config.num_heads == 8);
  CHECK(m.config.num_layers == 2);
  CHECK(m.tensors.at(oProj(0)).bytes() == original.tensors.at(oProj(0)).bytes());

  Model q = original;
  const Tensor& w = q.tensors.at(downProj(0));
  q.setQuantized(downProj(0), quantizeRtn(w.toFloats().data(), w.dim(0), w.dim(1), QuantScheme{4, 16, true}));
  checkError(errorOf([&] { prune(q, {0, 0.25, 0}); }), "put it first in the pipeline");
  Model s = original;
  s.sparsity[downProj(0)] = SparsityInfo{2, 4, 0.5, "magnitude"};
  checkError(errorOf([&] { prune(s, {0, 0, 1}); }), "sparsity");

  // Nothing asked, or a fraction that rounds to nothing: warnings, model unchanged.
  Model n = original;
  StructuredPruneOutcome out = prune(n, {0, 0.001, 0});
  REQUIRE(out.warnings.size() == 2);
  CHECK(out.warnings[0].find("ffn=0.001 asks for 0.048 of 48") != std::string::npos);
  CHECK(out.warnings[1].find("nothing to remove") != std::string::npos);
  CHECK(n.config.intermediate_size == 48);
}
