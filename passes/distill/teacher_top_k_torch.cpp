// The teacher pass that fills a top-k cache (teacher_cache.h), and the cache's rows as the loss
// reads them (distill_torch.h).
#include <algorithm>

#include "passes/distill/distill_torch.h"

namespace slmc::distill {

namespace {
// Rows `which` of a [sequences, seq_len, k] cache array as a [which, seq_len, k] tensor of `type`.
template <typename T>
at::Tensor cachedRows(const std::vector<T>& values, const TeacherTopK& c, const std::vector<int64_t>& which,
                      at::ScalarType type) {
  const size_t row = static_cast<size_t>(c.seq_len * c.k);
  std::vector<T> out;
  out.reserve(which.size() * row);
  for (int64_t r : which) out.insert(out.end(), values.begin() + r * row, values.begin() + (r + 1) * row);
  return at::from_blob(out.data(), {static_cast<int64_t>(which.size()), c.seq_len, c.k}, type).clone();
}
}  // namespace

std::vector<std::vector<int64_t>> rankShareBatches(int64_t first, int64_t count, int64_t batch, int64_t rank,
                                                   int64_t world_size) {
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i = rank; i < count; i += world_size) {
    if (batches.empty() || static_cast<int64_t>(batches.back().size()) == batch) batches.emplace_back();
    batches.back().push_back(first + i);
  }
  return batches;
}

std::vector<int32_t> sequenceRows(const DistillData& data, const std::vector<int64_t>& which) {
  std::vector<int32_t> out;
  out.reserve(which.size() * static_cast<size_t>(data.seq_len));
  for (int64_t r : which) {
    const auto begin = data.ids.begin() + r * data.seq_len;
    out.insert(out.end(), begin, begin + data.seq_len);
  }
  return out;
}

TeacherTopK teacherTopK(const ModelConfig& config, const decoder::Weights& weights, const DistillData& data, int64_t k,
                        double temperature, int64_t batch, DataParallel& group,
                        const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t n = data.num_sequences, seq = data.seq_len;
  // Each rank fills its rows (every world_size-th sequence); the sums over ranks are the whole.
  at::Tensor top_ids = at::zeros({n, seq, k}, at::kInt), top_log_probs = at::zeros({n, seq, k}, at::kFloat);
  {
    at::NoGradGuard no_grad;
    int64_t done = 0;  // this rank's sequences so far
    for (const std::vector<int64_t>& which : rankShareBatches(0, n, batch, group.rank(), group.worldSize())) {
      const at::Tensor logits =
          decoderLogits(config, weights, sequenceRows(data, which), static_cast<int64_t>(which.size()), seq);
      const auto [values, indices] = at::topk(at::log_softmax(logits / temperature, -1), k, -1);
      for (size_t i = 0; i < which.size(); ++i) {
        top_log_probs[which[i]].copy_(values[static_cast<int64_t>(i)]);
        top_ids[which[i]].copy_(indices[static_cast<int64_t>(i)]);
      }
      done += static_cast<int64_t>(which.size());
      if (progress) progress(std::min(done * group.worldSize(), n), n);
    }
  }
  group.sum(top_ids, "gathering the teacher cache");
  group.sum(top_log_probs, "gathering the teacher cache");
  TeacherTopK cache;
  cache.sequences = n;
  cache.seq_len = seq;
  cache.k = k;
  cache.input_ids = data.ids;
  cache.top_ids.assign(top_ids.data_ptr<int32_t>(), top_ids.data_ptr<int32_t>() + top_ids.numel());
  cache.top_log_probs.assign(top_log_probs.data_ptr<float>(), top_log_probs.data_ptr<float>() + top_log_probs.numel());
  return cache;
}

at::Tensor cachedTopIds(const TeacherTopK& cache, const std::vector<int64_t>& which) {
  return cachedRows(cache.top_ids, cache, which, at::kInt).to(at::kLong);
}

at::Tensor cachedTopLogProbs(const TeacherTopK& cache, const std::vector<int64_t>& which) {
  return cachedRows(cache.top_log_probs, cache, which, at::kFloat);
}

}  // namespace slmc::distill
