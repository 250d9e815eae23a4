// The prune pass's driver on the real stories260K checkpoint, calibrated on text the model
// sampled itself: exact targets and N:M patterns, Wanda and SparseGPT against magnitude, the
// sparsity record surviving Hugging Face and pack exports, and quantization keeping the zeros.
#include <doctest/doctest.h>

#include "lib/format/checkpoint.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/format/safetensors.h"
#include "lib/model/sparsity_record.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/reference_model.h"
#include "lib/support/error.h"
#include "passes/prune/prune_model.h"
#include "passes/quantize/quantize_model.h"
#include "tests/sampled_ids.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

const std::vector<int32_t>& calibrationIds() {
  static const std::vector<int32_t> ids = sampledFromBos(stories260KModel(), 32, 128, 21);
  return ids;
}
const std::vector<int32_t>& evalIds() {
  static const std::vector<int32_t> ids = sampledFromBos(stories260KModel(), 16, 128, 22);
  return ids;
}

PruneOptions options(PruneMethod method, double sparsity, const std::string& nm = "") {
  PruneOptions o;
  o.method = method;
  if (nm.empty())
    o.target.sparsity = sparsity;
  else
    o.target = parseNM(nm);
  return o;
}

Model pruned(const PruneOptions& o, PruneOutcome* outcome = nullptr) {
  Model m = stories260KModel();
  PruneOutcome out = pruneModel(m, o, calibrationIds(), 32, 128, LayerwiseCalibrationOptions{});
  if (outcome) *outcome = out;
  return m;
}

double perplexity(const Model& m) {
  const ReferenceModel base(stories260KModel()), cand(m);
  ComparisonOptions c;
  c.ctx = 128;
  return compareModels(base, cand, evalIds(), c).candidate_perplexity;
}

}  // namespace

TEST_CASE("prune: every method reaches the exact target on every layer linear and records it") {
  for (PruneMethod method : {PruneMethod::Magnitude, PruneMethod::Wanda, PruneMethod::SparseGpt}) {
    CAPTURE(pruneMethodName(method));
    PruneOutcome outcome;
    const Model m = pruned(options(method, 0.5), &outcome);
    CHECK(outcome.pruned_tensors == 35);
    CHECK(m.sparsity.size() == 35);
    for (const auto& [name, info] : m.sparsity) {
      CAPTURE(name);
      CHECK(zeroFraction(m.tensors.at(name)) == doctest::Approx(0.5).epsilon(1e-9));
      CHECK(info.method == pruneMethodName(method));
      CHECK(info.pattern() == "unstructured");
    }
    // Skipped weights stay dense.
    CHECK(zeroFraction(m.tensors.at(names::kEmbedTokens)) == 0.0);
    CHECK(outcome.figures["sparsity_of_pruned_weights"].get<double>() == doctest::Approx(0.5));
    CHECK(outcome.figures["layer_sparsity"].size() == 5);
  }
}

TEST_CASE("prune: 2:4 holds in every row group for every method, and per-layer fractions apply per layer") {
  for (PruneMethod method : {PruneMethod::Magnitude, PruneMethod::Wanda, PruneMethod::SparseGpt}) {
    CAPTURE(pruneMethodName(method));
    const Model m = pruned(options(method, 0, "2:4"));
    for (const auto& [name, info] : m.sparsity) {
      const Tensor& t = m.tensors.at(name);
      std::string where;
      CHECK_MESSAGE(satisfiesNM(t.floats(), t.dim(0), t.dim(1), 2, 4, &where), name << ": " << where);
      CHECK(info.pattern() == "2:4");
    }
    CHECK_NOTHROW(checkSparsityPatterns(m, "test"));
  }
  PruneOptions o = options(PruneMethod::Magnitude, 0);
  o.layer_sparsity = {0.1, 0.2, 0.3, 0.4, 0.0};
  const Model m = pruned(o);
  CHECK(zeroFraction(m.tensors.at(names::layer(2, "self_attn.q_proj.weight"))) == doctest::Approx(0.3).epsilon(1e-3));
  CHECK(zeroFraction(m.tensors.at(names::layer(4, "mlp.down_proj.weight"))) == 0.0);
}

TEST_CASE("prune: on stories260K SparseGPT and Wanda beat magnitude's perplexity for the same budget") {
  // 30% unstructured: the tiny model (64-wide rows) degrades fast, but the order is clear.
  const double magnitude = perplexity(pruned(options(PruneMethod::Magnitude, 0.3)));
  const double wanda = perplexity(pruned(options(PruneMethod::Wanda, 0.3)));
  const double sparsegpt = perplexity(pruned(options(PruneMethod::SparseGpt, 0.3)));
  MESSAGE("30%: magnitude " << magnitude << ", wanda " << wanda << ", sparsegpt " << sparsegpt);
  CHECK(sparsegpt < 0.8 * magnitude);
  CHECK(wanda < magnitude);
  const double magnitude24 = perplexity(pruned(options(PruneMethod::Magnitude, 0, "2:4")));
  const double sparsegpt24 = perplexity(pruned(options(PruneMethod::SparseGpt, 0, "2:4")));
  MESSAGE("2:4: magnitude " << magnitude24 << ", sparsegpt " << sparsegpt24);
  CHECK(sparsegpt24 < 0.8 * magnitude24);
}

TEST_CASE("prune: SparseGPT's per-tensor reconstruction error is below magnitude's on the real model") {
  PruneOutcome outcome;
  pruned(options(PruneMethod::SparseGpt, 0.5), &outcome);
  int64_t checked = 0;
  for (const auto& layer : outcome.figures["layers"])
    for (const auto& t : layer["tensors"]) {
      CAPTURE(t["tensor"].get<std::string>());
      CHECK(t["error"].get<double>() < t["magnitude_error"].get<double>());
      ++checked;
    }
  CHECK(checked == 35);
}

TEST_CASE("prune then quantize: the zeros and the 2:4 pattern survive RTN, GPTQ and asymmetric grids") {
  const Model sparse = pruned(options(PruneMethod::SparseGpt, 0, "2:4"));
  for (QuantMethod method : {QuantMethod::Rtn, QuantMethod::Gptq}) {
    for (bool symmetric : {true, false}) {
      CAPTURE(quantMethodName(method));
      CAPTURE(symmetric);
      Model m = sparse;
      QuantizeOptions q;
      q.method = method;
      q.scheme = {4, 32, symmetric};
      quantizeModel(m, q, calibrationIds(), 32, 128, LayerwiseCalibrationOptions{});
      CHECK(m.quantized.size() == 35);
      CHECK_NOTHROW(checkSparsityPatterns(m, "test"));
      for (const auto& [name, info] : sparse.sparsity) {
        // Every weight pruned before is exactly zero after (more may round to zero).
        const std::vector<float> before = sparse.tensors.at(name).toFloats();
        const std::vector<float> after = m.tensors.at(name).toFloats();
        int64_t revived = 0;
        for (size_t i = 0; i < before.size(); ++i) revived += before[i] == 0.0f && after[i] != 0.0f;
        CHECK_MESSAGE(revived == 0, name);
      }
    }
  }
}

TEST_CASE("prune: the sparsity record survives Hugging Face and pack exports, and damaged patterns are refused") {
  ScratchDir dir("prune-export");
  Model m = pruned(options(PruneMethod::Wanda, 0, "2:4"));
  m.source = "";
  saveHfDirectory(m, dir / "hf");
  const Model hf = loadModel(dir / "hf");
  CHECK(hf.sparsity == m.sparsity);
  CHECK(readJson(dir / "hf/config.json")["sparsity_config"]["weights"].size() == 35);

  writePack(m, dir / "m.slmc", PackProvenance{});
  const Model packed = loadModel(dir / "m.slmc");
  CHECK(packed.sparsity == m.sparsity);
  const std::string name = names::layer(1, "mlp.up_proj.weight");
  CHECK(packed.tensors.at(name).toFloats() == m.tensors.at(name).toFloats());

  // One pruned weight made non-zero again breaks the recorded 2:4: refused by name.
  Model broken = m;
  std::vector<float> w = broken.tensors.at(name).toFloats();
  for (size_t i = 0; i < 4; ++i) w[i] = 0.5f;
  broken.tensors.set(name, Tensor::fromFloats(broken.tensors.at(name).shape(), w));
  saveHfDirectory(broken, dir / "broken");
  checkError(errorOf([&] { loadModel(dir / "broken"); }),
             "'" + name + "' is recorded as 2:4 sparse but row 0, columns 0..3 hold 4 non-zeros");
}

TEST_CASE("prune: bad options are refused before any work") {
  Model m = stories260KModel();
  const auto check = [&](const PruneOptions& o) { return errorOf([&] { checkPruneOptions(m, o); }); };
  checkError(check(options(PruneMethod::Magnitude, 1.0)), "sparsity must be in [0, 1)");
  checkError(check(options(PruneMethod::Magnitude, -0.1)), "sparsity must be in [0, 1)");
  PruneOptions nm48 = options(PruneMethod::Magnitude, 0, "4:8");
  checkError(check(nm48), "mlp.down_proj.weight");  // 172 columns: 8 does not divide them
  nm48.skip = {"down_proj", "embed"};
  CHECK(check(nm48) == "no error");
  PruneOptions layers = options(PruneMethod::Magnitude, 0.5);
  layers.layer_sparsity = {0.5, 0.5};
  checkError(check(layers), "layer_sparsity has 2 values but the model has 5 layers");
  PruneOptions all = options(PruneMethod::Magnitude, 0.5);
  all.skip = {"model"};
  checkError(check(all), "nothing to prune");
  Model quantized = stories260KModel();
  QuantizeOptions q;
  q.scheme = {8, 0, true};
  quantizeModel(quantized, q, {}, 0, 0, LayerwiseCalibrationOptions{});
  checkError(errorOf([&] { checkPruneOptions(quantized, options(PruneMethod::Magnitude, 0.5)); }), "already quantized");
  Model twice = pruned(options(PruneMethod::Magnitude, 0.2));
  checkError(errorOf([&] { checkPruneOptions(twice, options(PruneMethod::Magnitude, 0.5)); }), "is already pruned");
}
