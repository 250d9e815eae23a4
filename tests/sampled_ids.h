// Token ids a model samples itself from BOS, for calibration and evaluation on models whose
// tokenizer is not in ../shared (stories260K). Seeded, so every run sees the same ids. Shared by
// the tests and the benchmarks that quantize or prune real models.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/model.h"
#include "lib/reference/reference_model.h"

namespace slmc::test {

// [n, len] ids: BOS then len - 1 sampled tokens per row.
inline std::vector<int32_t> sampledFromBos(const Model& model, int64_t n, int64_t len, uint64_t seed) {
  const ReferenceModel ref(model);
  ReferenceModel::SamplingOptions o;
  o.seed = seed;
  const std::vector<int32_t> bos(static_cast<size_t>(n), static_cast<int32_t>(model.config.bos_token_id));
  return ref.generate(bos, n, 1, len - 1, o);
}

}  // namespace slmc::test
