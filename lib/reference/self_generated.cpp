#include "lib/reference/self_generated.h"

#include <algorithm>
#include <random>
#include <string>

#include "lib/support/error.h"

namespace slmc {

std::vector<int32_t> generateFromBos(const ReferenceModel& model, int64_t count, int64_t seq_len, int64_t batch,
                                     const ReferenceModel::SamplingOptions& sampling,
                                     const std::function<void(int64_t, int64_t)>& progress) {
  const ModelConfig& c = model.config();
  require(count >= 1 && seq_len >= 2 && batch >= 1,
          "generating needs at least 1 sequence of at least 2 tokens (BOS plus one), in batches of at least 1");
  require(seq_len <= c.max_position_embeddings, "sequences of " + std::to_string(seq_len) +
                                                    " tokens exceed the model's context of " +
                                                    std::to_string(c.max_position_embeddings) + " tokens");
  require(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size,
          "the model's BOS id " + std::to_string(c.bos_token_id) + " is outside its vocabulary of " +
              std::to_string(c.vocab_size) + " (fix bos_token_id in its config)");
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(count * seq_len));
  std::mt19937_64 batch_seeds(sampling.seed);
  for (int64_t done = 0; done < count;) {
    const int64_t n = std::min(batch, count - done);
    ReferenceModel::SamplingOptions s = sampling;
    s.seed = batch_seeds();
    const std::vector<int32_t> prompts(static_cast<size_t>(n), static_cast<int32_t>(c.bos_token_id));
    const std::vector<int32_t> rows = model.generate(prompts, n, 1, seq_len - 1, s);
    out.insert(out.end(), rows.begin(), rows.end());
    done += n;
    if (progress) progress(done, count);
  }
  return out;
}

}  // namespace slmc
