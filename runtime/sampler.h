// Picks the next token from a row of logits: greedy, temperature, top-k and top-p (nucleus),
// seeded and identical on every platform. With top_p = 1 it draws exactly as the reference's
// ReferenceModel::generate does (lib/reference/reference_generate_torch.cpp), so the same logits and seed
// give the same tokens in both:
//   - temperature 0: the argmax, lowest id on ties; no draw.
//   - candidates: the whole vocabulary, or the top_k largest logits (ties: lower id first);
//     with top_p < 1, then the smallest set of the most probable of those whose probability
//     (at the temperature) sums to at least top_p.
//   - weights exp((l - max l) / T) in float64, walked in ascending id order; one draw
//     u = (rng() >> 11) · 2^-53 from std::mt19937_64(seed); the token is the first candidate whose
//     cumulative weight exceeds u · Σ weights.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace slmc::runtime {

struct SamplerOptions {
  double temperature = 1.0;  // 0: greedy
  int64_t top_k = 0;         // 0: whole vocabulary
  double top_p = 1.0;        // 1: no nucleus cut
  uint64_t seed = 0;
};

// "" when the options can be used, else one line naming the bad option and its range.
std::string checkSamplerOptions(const SamplerOptions& options);

class Sampler {
 public:
  // Throws Error when checkSamplerOptions finds a problem.
  Sampler(int64_t vocab, const SamplerOptions& options);
  int32_t sample(const float* logits);

 private:
  int64_t vocab_;
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_;
  std::vector<double> weights_;
};

}  // namespace slmc::runtime
