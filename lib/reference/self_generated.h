// Sequences a model samples from BOS alone: "self-generated" data, the data-free stand-in for a
// corpus in calibration (slmc dataset generate) and the teacher's own text in distillation
// (distill generate=N).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lib/reference/reference_model.h"

namespace slmc {

// `count` rows of `seq_len` ids (BOS, then seq_len - 1 sampled tokens), row-major, generated
// `batch` rows at a time; batch k samples with the k-th draw of std::mt19937_64(sampling.seed),
// so the seed and the batch fix the output byte for byte. `progress(done, count)` after each batch.
// Throws for a BOS outside the vocabulary or seq_len beyond the model's context.
// With shares > 1 only the batches k with k % shares == share are sampled and the other rows are
// left 0: data-parallel ranks each sample their share and sum the rows, and get the same bytes
// as one process (progress then counts this share's rows).
std::vector<int32_t> generateFromBos(const ReferenceModel& model, int64_t count, int64_t seq_len, int64_t batch,
                                     const ReferenceModel::SamplingOptions& sampling,
                                     const std::function<void(int64_t, int64_t)>& progress = {}, int64_t share = 0,
                                     int64_t shares = 1);

}  // namespace slmc
