// How far a compressed model's next-token distributions are from the original's, on the same
// token windows: both perplexities, top-1 agreement (argmax equal) and mean KL(original ‖ candidate).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lib/reference/reference_model.h"

namespace slmc {

struct ComparisonOptions {
  int64_t ctx = 256;   // non-overlapping windows of ctx tokens (a shorter tail window is scored too)
  int64_t batch = 4;   // windows per forward
};

struct ComparisonResult {
  int64_t tokens_scored = 0;
  double base_mean_nll = 0, base_perplexity = 0;
  double candidate_mean_nll = 0, candidate_perplexity = 0;
  double top1_agreement = 0;  // fraction of scored positions where both argmaxes are equal
  double mean_kl = 0;         // mean over scored positions of KL(base ‖ candidate), nats
  double seconds = 0;
};

ComparisonResult compareModels(const ReferenceModel& base, const ReferenceModel& candidate,
                               const std::vector<int32_t>& ids, const ComparisonOptions& options,
                               const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace slmc
