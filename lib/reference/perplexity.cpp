#include "lib/reference/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "lib/reference/cpu_block_cache.h"
#include "lib/support/error.h"

namespace slmc {

std::vector<EvalWindow> slidingWindows(int64_t n, int64_t ctx, int64_t stride) {
  require(ctx >= 2, "--ctx must be at least 2, got " + std::to_string(ctx));
  if (stride <= 0) stride = ctx;
  require(stride <= ctx, "--stride (" + std::to_string(stride) + ") cannot exceed --ctx (" + std::to_string(ctx) +
                             "): tokens between windows would never be scored");
  require(n >= 2, "need at least 2 tokens to evaluate, got " + std::to_string(n));
  std::vector<EvalWindow> windows;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n; begin += stride) {
    const int64_t end = std::min(begin + ctx, n);
    const int64_t score_from = std::max(prev_end, begin + 1);
    if (score_from < end && end - begin >= 2) windows.push_back({begin, end, score_from});
    prev_end = end;
    if (end == n) break;
  }
  return windows;
}

std::vector<EvalWindow> secondHalfWindows(int64_t n, int64_t ctx) {
  require(ctx >= 4, "--second-half needs --ctx of at least 4, got " + std::to_string(ctx));
  require(n >= ctx, "--second-half scores whole windows of --ctx " + std::to_string(ctx) + " tokens, but there are only " +
                        std::to_string(n) + " tokens (use a smaller --ctx or more data)");
  std::vector<EvalWindow> windows;
  for (int64_t begin = 0; begin + ctx <= n; begin += ctx) windows.push_back({begin, begin + ctx, begin + ctx / 2 + 1});
  return windows;
}

std::vector<EvalWindow> evalWindows(int64_t n, int64_t ctx, int64_t stride, bool second_half) {
  if (!second_half) return slidingWindows(n, ctx, stride);
  require(stride == 0 || stride == ctx, "--second-half scores non-overlapping windows: drop --stride " +
                                            std::to_string(stride) + " (or set it to --ctx)");
  return secondHalfWindows(n, ctx);
}

void requireContextFits(const ModelConfig& config, int64_t ctx) {
  require(ctx <= config.max_position_embeddings, "--ctx " + std::to_string(ctx) + " exceeds the model's context of " +
                                                     std::to_string(config.max_position_embeddings) +
                                                     " tokens (use a smaller --ctx)");
}

PerplexityResult evaluatePerplexity(const ReferenceModel& model, const std::vector<int32_t>& ids,
                                    const PerplexityOptions& options,
                                    const std::function<void(int64_t, int64_t)>& progress) {
  requireContextFits(model.config(), options.ctx);
  require(options.batch >= 1, "--batch must be at least 1");
  const auto windows = evalWindows(static_cast<int64_t>(ids.size()), options.ctx, options.stride, options.second_half);
  // Each batch's logits and softmaxes reuse the previous batch's blocks (cpu_block_cache.h).
  const CpuBlockCache::Scope block_cache(
      static_cast<size_t>(6 * options.batch * options.ctx * model.config().vocab_size * 4));
  PerplexityResult r;
  r.windows = static_cast<int64_t>(windows.size());
  double nll_sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < windows.size();) {
    // A batch holds consecutive windows of equal length (all but the last window are ctx long).
    const int64_t len = windows[i].end - windows[i].begin;
    size_t j = i;
    std::vector<int32_t> batch_ids;
    while (j < windows.size() && static_cast<int64_t>(j - i) < options.batch &&
           windows[j].end - windows[j].begin == len) {
      batch_ids.insert(batch_ids.end(), ids.begin() + windows[j].begin, ids.begin() + windows[j].end);
      ++j;
    }
    const int64_t batch = static_cast<int64_t>(j - i);
    const std::vector<float> nll = model.nextTokenNll(batch_ids, batch, len);
    for (int64_t b = 0; b < batch; ++b) {
      const EvalWindow& w = windows[i + static_cast<size_t>(b)];
      // nll[b, t] scores ids[begin + t + 1]; keep targets at or after score_from.
      for (int64_t target = w.score_from; target < w.end; ++target)
        nll_sum += nll[static_cast<size_t>(b * (len - 1) + (target - w.begin - 1))];
      r.tokens_scored += w.end - w.score_from;
    }
    r.tokens_forwarded += batch * len;
    r.forward_flops += model.forwardFlops(batch, len);
    i = j;
    if (progress) progress(static_cast<int64_t>(i), r.windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.mean_nll = nll_sum / static_cast<double>(r.tokens_scored);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

}  // namespace slmc
