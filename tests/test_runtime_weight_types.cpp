// The runtime runs every weight type wherever a weight sits: bfloat16 packs, and embeddings /
// heads stored quantized (int8, int4; the embedding lookup dequantizes one row, the head is a
// matmul like any other), each against the LibTorch reference on the same model.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "lib/format/float_dtype.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "runtime/transformer.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// Max |runtime logit - reference logit| over the positions of `ids`, run as one prefill (more
// than 4 rows: the exact float path of every kernel).
double maxLogitDiff(const Model& m, const std::string& path, const std::vector<int32_t>& ids) {
  writePack(m, path, {m.source, "", "test", "test"});
  runtime::Transformer t = runtime::Transformer::open(path);
  const int64_t n = static_cast<int64_t>(ids.size()), vocab = m.config.vocab_size;
  std::vector<float> got(static_cast<size_t>(n * vocab));
  t.prefill(ids.data(), n, got.data());
  const Tensor want = ReferenceModel(m).logits(ids, 1, n);
  double diff = 0;
  for (int64_t i = 0; i < n * vocab; ++i)
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - want.floats()[i]));
  return diff;
}

std::vector<int32_t> someIds(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 29 + 5) % vocab));
  return ids;
}

void quantizeTensor(Model& m, const std::string& name, const QuantScheme& scheme) {
  const Tensor& t = m.tensors.at(name);
  const std::vector<float> values = t.toFloats();
  m.setQuantized(name, quantizeRtn(values.data(), t.dim(0), t.dim(1), scheme));
}

}  // namespace

TEST_CASE("runtime weight types: a bfloat16 stories260K pack gives the reference's logits") {
  ScratchDir dir("rt-bf16");
  const Model m = withWrittenFloatDTypes(stories260KModel(), DType::BF16);
  REQUIRE(m.tensors.at(names::kEmbedTokens).dtype() == DType::BF16);
  const PackFile pack = [&] {
    writePack(m, dir / "probe.slmc", {"", "", "", "test"});
    return PackFile::open(dir / "probe.slmc");
  }();
  for (const PackTensor& t : pack.tensors()) CHECK(t.storage == pack::Storage::BF16);
  const double diff = maxLogitDiff(m, dir / "b.slmc", someIds(40, m.config.vocab_size));
  MESSAGE("stories260K bf16 pack: max |logit diff| vs reference " << diff);
  CHECK(diff < kReferenceLogitTolerance);
}

TEST_CASE("runtime weight types: int8, int6, int5 and int4 embeddings (tied head) and lm_heads run and equal the reference") {
  ScratchDir dir("rt-quant-embed");
  const QuantScheme schemes[] = {{8, 32, true}, {6, 32, true}, {5, 32, true}, {4, 32, false}, {4, 0, true}};
  for (const QuantScheme& s : schemes) {
    CAPTURE(schemeName(s));
    // stories260K ties its head to the embedding: one quantized table is both.
    Model tied = stories260KModel();
    REQUIRE(tied.config.tie_word_embeddings);
    quantizeTensor(tied, names::kEmbedTokens, s);
    const double tied_diff = maxLogitDiff(tied, dir / "tied.slmc", someIds(40, tied.config.vocab_size));
    MESSAGE(schemeName(s) << " embedding (tied head), stories260K: max |logit diff| " << tied_diff);
    CHECK(tied_diff < kReferenceLogitTolerance);

    // An untied model with a quantized embedding and a quantized lm_head of another scheme.
    TinyShape shape;
    shape.vocab = 96;
    shape.layers = 2;
    Model untied = randomModel(tinyLlamaConfig(shape), 17);
    quantizeTensor(untied, names::kEmbedTokens, s);
    quantizeTensor(untied, names::kLmHead, QuantScheme{8, 0, false});
    CHECK(maxLogitDiff(untied, dir / "untied.slmc", someIds(24, 96)) < kReferenceLogitTolerance);
  }
}
