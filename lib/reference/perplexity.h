// Perplexity over a long token stream with sliding windows: the Hugging Face recipe. Windows of
// `ctx` tokens start every `stride` tokens; each scores only the tokens no earlier window scored,
// so every token after the first is scored exactly once, with up to ctx-1 tokens of context.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lib/reference/reference_model.h"

namespace slmc {

struct PerplexityOptions {
  int64_t ctx = 256;
  int64_t stride = 0;  // 0: stride = ctx (non-overlapping windows)
  int64_t batch = 4;   // windows per forward
  // llama.cpp llama-perplexity's protocol instead (secondHalfWindows): stride must be 0 or ctx.
  bool second_half = false;
};

struct PerplexityResult {
  int64_t tokens_scored = 0;
  int64_t tokens_forwarded = 0;  // sum of window lengths (what the model computed)
  int64_t windows = 0;
  double mean_nll = 0;
  double perplexity = 0;
  double seconds = 0;
  double forward_flops = 0;
};

struct EvalWindow {
  int64_t begin, end;  // ids[begin, end) go into the model
  int64_t score_from;  // targets ids[score_from, end) are scored
};

// Throws the user-facing error when windows of `ctx` tokens do not fit the model's context.
void requireContextFits(const ModelConfig& config, int64_t ctx);

// The windows the recipe visits, exposed for tests.
std::vector<EvalWindow> slidingWindows(int64_t num_tokens, int64_t ctx, int64_t stride);

// The windows llama.cpp's llama-perplexity scores, so that its figures and slmc's come from the
// same targets: whole non-overlapping windows of ctx tokens (a shorter last one is dropped), each
// scoring only its last ctx - 1 - ctx / 2 targets, the first half being context only.
std::vector<EvalWindow> secondHalfWindows(int64_t num_tokens, int64_t ctx);

// slidingWindows or, with `second_half`, secondHalfWindows (which refuses a stride other than
// 0 or ctx).
std::vector<EvalWindow> evalWindows(int64_t num_tokens, int64_t ctx, int64_t stride, bool second_half);

// `progress(done_windows, total_windows)` is called after every batch when set.
PerplexityResult evaluatePerplexity(const ReferenceModel& model, const std::vector<int32_t>& ids,
                                    const PerplexityOptions& options,
                                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace slmc
