#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "lib/support/error.h"

namespace slmc::runtime {

std::string checkSamplerOptions(const SamplerOptions& o) {
  if (!std::isfinite(o.temperature) || o.temperature < 0)
    return "--temperature must be finite and >= 0 (0: greedy), got " + std::to_string(o.temperature);
  if (o.top_k < 0) return "--top-k must be >= 0 (0: whole vocabulary), got " + std::to_string(o.top_k);
  if (!(o.top_p > 0 && o.top_p <= 1)) return "--top-p must be in (0, 1] (1: no cut), got " + std::to_string(o.top_p);
  return "";
}

Sampler::Sampler(int64_t vocab, const SamplerOptions& options) : vocab_(vocab), options_(options), rng_(options.seed) {
  const std::string problem = checkSamplerOptions(options);
  require(problem.empty(), problem);
  require(vocab >= 1, "internal: sampler over an empty vocabulary");
}

int32_t Sampler::sample(const float* logits) {
  const SamplerOptions& o = options_;
  if (o.temperature == 0) return static_cast<int32_t>(std::max_element(logits, logits + vocab_) - logits);

  // Candidates, in ascending id order.
  const auto before = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  candidates_.resize(static_cast<size_t>(vocab_));
  std::iota(candidates_.begin(), candidates_.end(), 0);
  if (o.top_k > 0 && o.top_k < vocab_) {
    std::nth_element(candidates_.begin(), candidates_.begin() + (o.top_k - 1), candidates_.end(), before);
    candidates_.resize(static_cast<size_t>(o.top_k));
  }
  double max_logit = -INFINITY;
  for (int32_t id : candidates_) max_logit = std::max(max_logit, static_cast<double>(logits[id]));
  const auto weight = [&](int32_t id) {
    return std::exp((static_cast<double>(logits[id]) - max_logit) / o.temperature);
  };
  if (o.top_p < 1) {
    // The most probable first; keep them until their share of the total reaches top_p.
    std::sort(candidates_.begin(), candidates_.end(), before);
    double total = 0;
    for (int32_t id : candidates_) total += weight(id);
    double kept = 0;
    size_t n = 0;
    while (n < candidates_.size() && kept < o.top_p * total) kept += weight(candidates_[n++]);
    candidates_.resize(std::max<size_t>(n, 1));
  }
  std::sort(candidates_.begin(), candidates_.end());

  weights_.resize(candidates_.size());
  double total = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) total += weights_[i] = weight(candidates_[i]);
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double cumulative = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cumulative += weights_[i];
    if (target < cumulative) return candidates_[i];
  }
  // Rounding left the target at the very end: the last candidate with any weight.
  for (size_t i = candidates_.size(); i-- > 0;)
    if (weights_[i] > 0) return candidates_[i];
  return candidates_.back();
}

}  // namespace slmc::runtime
