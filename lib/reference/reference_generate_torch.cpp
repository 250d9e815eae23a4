// ReferenceModel::generate: the reference decoder with a KV cache per layer.
//
// The prompt is prefilled in one forward; then each step feeds the B newest tokens (one per
// row) at position past = prompt_len + step - 1, attending to the cached keys/values. Only the
// last position's logits go through the head.
//
// Sampling (identical on every platform for the same logits): one std::mt19937_64 seeded with
// options.seed serves the whole call; at every step rows 0..B-1 draw in order one uniform
// u = (rng() >> 11) · 2^-53 in [0, 1). The candidates are the whole vocabulary, or with top_k the
// k largest logits (ties: lower id first). p_i ∝ exp((l_i - max l) / T) in float64; the token is
// the first candidate, in ascending id order, whose cumulative weight exceeds u · Σ weights.
// Temperature 0 is greedy: the argmax, lowest id on ties, and draws nothing.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "lib/reference/reference_decoder_torch.h"
#include "lib/reference/reference_model.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

int32_t argmaxLowestId(const double* logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

int32_t sampleToken(const double* logits, int64_t vocab, const ReferenceModel::SamplingOptions& o,
                    std::mt19937_64& rng) {
  if (o.temperature == 0) return argmaxLowestId(logits, vocab);
  std::vector<int32_t> candidates(static_cast<size_t>(vocab));
  std::iota(candidates.begin(), candidates.end(), 0);
  if (o.top_k > 0 && o.top_k < vocab) {
    const auto before = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    std::nth_element(candidates.begin(), candidates.begin() + (o.top_k - 1), candidates.end(), before);
    candidates.resize(static_cast<size_t>(o.top_k));
    std::sort(candidates.begin(), candidates.end());  // ascending id: the order the draw walks
  }
  double max_logit = -INFINITY;
  for (int32_t id : candidates) max_logit = std::max(max_logit, logits[id]);
  std::vector<double> weight(candidates.size());
  double total = 0;
  for (size_t i = 0; i < candidates.size(); ++i) total += weight[i] = std::exp((logits[candidates[i]] - max_logit) / o.temperature);
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double cumulative = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += weight[i];
    if (target < cumulative) return candidates[i];
  }
  // Rounding left the target at the very end: the last candidate with any weight.
  for (size_t i = candidates.size(); i-- > 0;)
    if (weight[i] > 0) return candidates[i];
  return candidates.back();
}

}  // namespace

std::vector<int32_t> ReferenceModel::generate(const std::vector<int32_t>& prompts, int64_t batch, int64_t prompt_len,
                                              int64_t new_tokens, const SamplingOptions& options) const {
  c10::InferenceMode guard;
  const ModelConfig& c = config_;
  const Weights& w = *weights_;
  require(batch >= 1 && prompt_len >= 1 && static_cast<int64_t>(prompts.size()) == batch * prompt_len,
          "generation needs at least one prompt of at least one token (got " + std::to_string(prompts.size()) +
              " ids for " + std::to_string(batch) + " prompts of " + std::to_string(prompt_len) + ")");
  require(new_tokens >= 0, "cannot generate " + std::to_string(new_tokens) + " tokens (use 0 or more)");
  const int64_t total = prompt_len + new_tokens;
  require(total <= c.max_position_embeddings, "prompt (" + std::to_string(prompt_len) + ") plus " +
                                                  std::to_string(new_tokens) + " new tokens exceed the model's context of " +
                                                  std::to_string(c.max_position_embeddings) +
                                                  " tokens (generate fewer tokens)");
  require(std::isfinite(options.temperature) && options.temperature >= 0,
          "temperature must be finite and >= 0 (0: greedy), got " + std::to_string(options.temperature));
  require(options.top_k >= 0, "top-k must be >= 0 (0: whole vocabulary), got " + std::to_string(options.top_k));

  std::vector<int32_t> out(static_cast<size_t>(batch * total));
  for (int64_t b = 0; b < batch; ++b)
    std::copy_n(prompts.begin() + b * prompt_len, prompt_len, out.begin() + b * total);
  if (new_tokens == 0) {
    decoder::embedTokens(c, w.embed, w.positions, prompts, batch, prompt_len);  // validates the ids
    return out;
  }

  std::vector<decoder::KvCache> caches;
  for (size_t i = 0; i < w.layers.size(); ++i)
    caches.push_back({at::empty({batch, c.num_kv_heads, total, c.head_dim}, w.embed.options()),
                      at::empty({batch, c.num_kv_heads, total, c.head_dim}, w.embed.options())});
  const decoder::Rope rope = decoder::rotaryTable(c, total, w.embed.scalar_type());
  std::mt19937_64 rng(options.seed);
  const int64_t vocab = c.vocab_size;

  std::vector<int32_t> step_ids = prompts;
  int64_t past = 0, len = prompt_len;
  for (int64_t step = 0; step < new_tokens; ++step) {
    at::Tensor x = decoder::embedTokens(c, w.embed, w.positions, step_ids, batch, len, past);
    const decoder::Rope step_rope = rope.narrow(past, len);
    const at::Tensor causal_bias = decoder::causalBias(len, past, w.embed.scalar_type());
    for (size_t i = 0; i < w.layers.size(); ++i) {
      x.add_(decoder::selfAttention(c, w.layers[i], x, step_rope, causal_bias, past, &caches[i]));
      x.add_(decoder::feedForward(c, w.layers[i], x));
    }
    const at::Tensor last = decoder::applyNorm(c, w.final_norm, x.narrow(1, len - 1, 1).reshape({batch, -1}));
    const at::Tensor logits = at::matmul(last, w.head.t()).to(at::kDouble).contiguous();
    const double* l = logits.data_ptr<double>();
    past += len;
    len = 1;
    step_ids.assign(static_cast<size_t>(batch), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const int32_t id = sampleToken(l + b * vocab, vocab, options, rng);
      step_ids[static_cast<size_t>(b)] = id;
      out[static_cast<size_t>(b * total + past)] = id;
    }
  }
  return out;
}

}  // namespace slmc
