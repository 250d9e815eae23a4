#include "lib/reference/self_generated.h"

#include <algorithm>
#include <random>
#include <string>

#include "lib/support/error.h"

namespace slmc {

std::vector<int32_t> generateFromBos(const ReferenceModel& model, int64_t count, int64_t seq_len, int64_t batch,
                                     const ReferenceModel::SamplingOptions& sampling,
                                     const std::function<void(int64_t, int64_t)>& progress, int64_t share,
                                     int64_t shares) {
  const ModelConfig& c = model.config();
  require(count >= 1 && seq_len >= 2 && batch >= 1,
          "generating needs at least 1 sequence of at least 2 tokens (BOS plus one), in batches of at least 1");
  require(shares >= 1 && share >= 0 && share < shares,
          "generating share " + std::to_string(share) + " of " + std::to_string(shares) + ": no such share");
  require(seq_len <= c.max_position_embeddings, "sequences of " + std::to_string(seq_len) +
                                                    " tokens exceed the model's context of " +
                                                    std::to_string(c.max_position_embeddings) + " tokens");
  require(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size,
          "the model's BOS id " + std::to_string(c.bos_token_id) + " is outside its vocabulary of " +
              std::to_string(c.vocab_size) + " (fix bos_token_id in its config)");
  std::vector<int32_t> out(static_cast<size_t>(count * seq_len), 0);
  int64_t own_rows = 0;
  for (int64_t first = share * batch; first < count; first += shares * batch)
    own_rows += std::min(batch, count - first);
  std::mt19937_64 batch_seeds(sampling.seed);
  int64_t own_done = 0;
  for (int64_t k = 0, first = 0; first < count; ++k, first += batch) {
    const int64_t n = std::min(batch, count - first);
    ReferenceModel::SamplingOptions s = sampling;
    s.seed = batch_seeds();  // drawn for every batch, so a share's seeds are the single process's
    if (k % shares != share) continue;
    const std::vector<int32_t> prompts(static_cast<size_t>(n), static_cast<int32_t>(c.bos_token_id));
    const std::vector<int32_t> rows = model.generate(prompts, n, 1, seq_len - 1, s);
    std::copy(rows.begin(), rows.end(), out.begin() + first * seq_len);
    own_done += n;
    if (progress) progress(own_done, own_rows);
  }
  return out;
}

}  // namespace slmc
