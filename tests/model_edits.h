// Small helpers the model-level tests share: seeded ids, the largest logit difference between two
// models on the same ids, and the weight edits that make a head or channel contribute nothing.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/reference_model.h"

namespace slmc::test {

// n ids in [0, vocab) from a 64-bit LCG (the same on every platform).
inline std::vector<int32_t> pseudoRandomIds(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    id = static_cast<int32_t>((seed >> 33) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

// max |logits(a) - logits(b)| of the reference forward on 2 x 12 seeded ids.
inline double maxLogitDiff(const Model& a, const Model& b) {
  const int64_t batch = 2, seq = 12;
  const std::vector<int32_t> ids = pseudoRandomIds(batch * seq, a.config.vocab_size, 5);
  const Tensor la = ReferenceModel(a).logits(ids, batch, seq), lb = ReferenceModel(b).logits(ids, batch, seq);
  REQUIRE(la.shape() == lb.shape());
  double worst = 0;
  for (int64_t i = 0; i < la.numel(); ++i) worst = std::max(worst, std::fabs(double(la.floats()[i]) - lb.floats()[i]));
  return worst;
}

// Sets columns `cols` of a 2-D weight to zero.
inline void zeroColumns(Model& m, const std::string& name, const std::vector<int64_t>& cols) {
  const Tensor& t = m.tensors.at(name);
  std::vector<float> v = t.toFloats();
  for (int64_t r = 0; r < t.dim(0); ++r)
    for (int64_t c : cols) v[static_cast<size_t>(r * t.dim(1) + c)] = 0;
  m.tensors.set(name, Tensor::fromFloats(t.shape(), std::move(v)));
}

// The o_proj input columns of attention heads `heads`.
inline std::vector<int64_t> headColumns(const std::vector<int64_t>& heads, int64_t head_dim) {
  std::vector<int64_t> cols;
  for (int64_t h : heads)
    for (int64_t d = 0; d < head_dim; ++d) cols.push_back(h * head_dim + d);
  return cols;
}

}  // namespace slmc::test
