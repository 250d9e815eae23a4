#include <doctest/doctest.h>

#include <cmath>

#include "datasets/token_file.h"
#include "lib/format/checkpoint.h"
#include "lib/model/random_model.h"
#include "lib/reference/layerwise_forward.h"
#include "lib/reference/reference_model.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

std::vector<std::string> allLinears(const ModelConfig& c) {
  std::vector<std::string> out;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const SiteSpec& site : layerSites(c, l)) out.insert(out.end(), site.linears.begin(), site.linears.end());
  return out;
}

Model withActivationQuant(Model m, const ActivationQuant& q) {
  for (const std::string& name : allLinears(m.config)) m.activation_quant[name] = q;
  return m;
}

double maxDiff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a.floats()[i] - b.floats()[i])));
  return worst;
}

double meanNll(const Model& m, const std::vector<int32_t>& ids) {
  const std::vector<float> nll = ReferenceModel(m).nextTokenNll(ids, 1, static_cast<int64_t>(ids.size()));
  double sum = 0;
  for (float v : nll) sum += v;
  return sum / static_cast<double>(nll.size());
}

}  // namespace

TEST_CASE("activation quant: dynamic 8-bit stays close to float, 4-bit drifts further (real stories260K)") {
  const Model m = loadModel(stories260K());
  const std::vector<int32_t> ids = readTokenFile(fixture("reference/stories260K_sample.txt"));
  const Tensor reference = ReferenceModel(m).logits(ids, 1, 256);
  const Model a8 = withActivationQuant(m, {8, true, 0}), a4 = withActivationQuant(m, {4, true, 0});
  const double err8 = maxDiff(ReferenceModel(a8).logits(ids, 1, 256), reference);
  const double err4 = maxDiff(ReferenceModel(a4).logits(ids, 1, 256), reference);
  const double nll = meanNll(m, ids), nll8 = meanNll(a8, ids), nll4 = meanNll(a4, ids);
  MESSAGE("stories260K vs float: max |logit diff| A8 dynamic " << err8 << ", A4 dynamic " << err4
                                                               << "; mean NLL " << nll << " -> A8 " << nll8
                                                               << ", A4 " << nll4);
  CHECK(err8 > 0);  // the quantizer is applied
  // Logits span about ±20 on this 64-wide model; a per-token 8-bit input keeps them within a few
  // units at worst and the mean NLL within 2 %.
  CHECK(err8 < 5);
  CHECK(std::abs(nll8 - nll) < 0.02 * nll);
  CHECK(err4 > 4 * err8);
  CHECK(std::abs(nll4 - nll) > 5 * std::abs(nll8 - nll));
  // Each 2 more bits divide the error by about 4 (the rounding step halves per bit).
  const double err10 = maxDiff(ReferenceModel(withActivationQuant(m, {10, true, 0})).logits(ids, 1, 256), reference);
  CHECK(err10 < err8 / 2);
}

TEST_CASE("activation quant: static per-tensor scales from layer-wise abs max keep 8-bit NLL close") {
  const Model m = loadModel(stories260K());
  const std::vector<int32_t> ids = readTokenFile(fixture("reference/stories260K_sample.txt"));
  // Calibrate a scale per site (max |x| / 127) on the sample, layer by layer, as a W8A8 pass would.
  Model calibrated = m;
  LayerwiseForward lf(m, ids, 4, 64, LayerwiseOptions{});
  while (lf.nextLayer() < lf.numLayers()) {
    for (const SiteStats& site : lf.collect(calibrated).sites) {
      float amax = 0;
      for (float v : site.abs_max) amax = std::max(amax, v);
      for (const std::string& name : site.linears) calibrated.activation_quant[name] = {8, false, amax / 127.0f};
    }
    lf.advance(calibrated);
  }
  const double err = maxDiff(ReferenceModel(calibrated).logits(ids, 1, 256), ReferenceModel(m).logits(ids, 1, 256));
  const double nll = meanNll(m, ids), nll8 = meanNll(calibrated, ids);
  MESSAGE("stories260K vs float, A8 static (abs-max calibrated): max |logit diff| " << err << "; mean NLL " << nll
                                                                                     << " -> " << nll8);
  CHECK(err > 0);
  // Per-tensor static scales are coarser than per-token dynamic ones (one outlier token sets the
  // step for all): NLL +7.7 % here, still far from the +140 % of 4-bit dynamic inputs.
  CHECK(std::abs(nll8 - nll) < 0.1 * nll);
}

TEST_CASE("activation quant: a static scale far above the inputs rounds them to zero (= zero weights)") {
  // Every linear's input rounds to 0, so every linear outputs 0 (Llama linears have no bias):
  // the logits equal those of the model with all linear weights zeroed, whatever the weights.
  const Model m = loadModel(stories260K());
  Model zero_weights = m;
  for (const std::string& name : allLinears(m.config))
    zero_weights.tensors.set(name, Tensor::fromFloats(m.tensors.at(name).shape(),
                                                      std::vector<float>(static_cast<size_t>(m.tensors.at(name).numel()))));
  const std::vector<int32_t> ids = {1, 422, 327, 396, 360, 20, 146};
  const Tensor quantized = ReferenceModel(withActivationQuant(m, {8, false, 1e30f})).logits(ids, 1, 7);
  CHECK(maxDiff(quantized, ReferenceModel(zero_weights).logits(ids, 1, 7)) == 0.0);
  CHECK(maxDiff(quantized, ReferenceModel(m).logits(ids, 1, 7)) > 1.0);
}

TEST_CASE("activation quant: static rounding to a fine grid is near float, to a coarse grid zeroes small inputs") {
  ModelConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 8;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 16;
  c.max_position_embeddings = 8;
  const Model m = randomModel(c, 3, 0.05f);
  const std::vector<int32_t> ids = {1, 5, 9, 2};
  // 16 bits, step 1e-4: integers cover ±3.27, beyond the RMSNorm outputs (|x| <= sqrt(8)), so the
  // only change is rounding each input to a multiple of 1e-4.
  Model fine = m;
  for (const std::string& name : allLinears(c)) fine.activation_quant[name] = {16, false, 1e-4f};
  const double fine_err = maxDiff(ReferenceModel(fine).logits(ids, 1, 4), ReferenceModel(m).logits(ids, 1, 4));
  CHECK(fine_err > 0);
  CHECK(fine_err < 1e-3);
  // 2 bits (integers -2..1), step 1: down_proj's inputs (|silu(gate)·up| < 0.5 with weights of
  // at most 0.05) all round to 0, which is the model without its down projection.
  Model coarse = m;
  coarse.activation_quant[names::layer(0, "mlp.down_proj.weight")] = {2, false, 1.0f};
  Model no_down = m;
  no_down.tensors.set(names::layer(0, "mlp.down_proj.weight"), Tensor::fromFloats({8, 8}, std::vector<float>(64, 0.0f)));
  CHECK(maxDiff(ReferenceModel(coarse).logits(ids, 1, 4), ReferenceModel(no_down).logits(ids, 1, 4)) == 0.0);
  CHECK(maxDiff(ReferenceModel(coarse).logits(ids, 1, 4), ReferenceModel(m).logits(ids, 1, 4)) > 0.0);
}

TEST_CASE("activation quant: bad quantizer settings are rejected naming the linear") {
  Model m = loadModel(stories260K());
  const std::string q = names::layer(2, "self_attn.q_proj.weight");
  Model one_bit = m;
  one_bit.activation_quant[q] = {1, true, 0};
  checkError(errorOf([&] { ReferenceModel r(one_bit); }), "activation quantizer of '" + q + "' has 1 bits");
  Model no_scale = m;
  no_scale.activation_quant[q] = {8, false, 0};
  checkError(errorOf([&] { ReferenceModel r(no_scale); }), "is static with scale 0");
  Model head = m;
  head.activation_quant["lm_head.weight"] = {8, true, 0};
  checkError(errorOf([&] { ReferenceModel r(head); }), "'lm_head.weight', which is not a linear weight");
  checkError(errorOf([&] { LayerwiseForward lf(no_scale, {1, 2}, 1, 2, LayerwiseOptions{}); }),
             "is static with scale 0");
}
