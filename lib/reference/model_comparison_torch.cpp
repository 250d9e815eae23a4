// compareModels: both models run on the same non-overlapping windows (perplexity.h's
// slidingWindows with stride = ctx), batched like evaluatePerplexity. Every position that has a
// next token in its window is scored: NLL of that token under each model, top-1 agreement and
// KL(base ‖ candidate) of the two next-token distributions.
//
// log_softmax and KL run in float64 on row chunks of the float32 logits: KL is a sum of
// p·(log p - log q) over the vocabulary whose terms nearly cancel for a good compressed model
// (KL ~ 1e-4 nats and below), where float32's ~1e-7 relative error on log-probabilities of
// magnitude ~10 would be of the same order as the result. The cost is element-wise, small next to
// the head's matrix product.
#include "lib/reference/model_comparison.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "lib/reference/perplexity.h"
#include "lib/reference/reference_decoder_torch.h"
#include "lib/support/error.h"

namespace slmc {

ComparisonResult compareModels(const ReferenceModel& base, const ReferenceModel& candidate,
                               const std::vector<int32_t>& ids, const ComparisonOptions& options,
                               const std::function<void(int64_t, int64_t)>& progress) {
  c10::InferenceMode guard;
  require(base.config().vocab_size == candidate.config().vocab_size,
          "cannot compare models with different vocabularies (" + std::to_string(base.config().vocab_size) + " vs " +
              std::to_string(candidate.config().vocab_size) + " tokens): compare models that share a tokenizer");
  requireContextFits(base.config(), options.ctx);
  requireContextFits(candidate.config(), options.ctx);
  require(options.batch >= 1, "--batch must be at least 1, got " + std::to_string(options.batch));
  const auto windows = slidingWindows(static_cast<int64_t>(ids.size()), options.ctx, options.ctx);
  const auto start = std::chrono::steady_clock::now();

  double base_nll = 0, candidate_nll = 0, kl = 0;
  int64_t agree = 0, scored = 0;
  // Rows of logits per float64 chunk: bounds the memory of the vocabulary-wide temporaries.
  constexpr int64_t kRows = 128;
  for (size_t i = 0; i < windows.size();) {
    // A batch holds consecutive windows of equal length (all but the last are ctx long).
    const int64_t len = windows[i].end - windows[i].begin;
    size_t j = i;
    std::vector<int32_t> batch_ids;
    while (j < windows.size() && static_cast<int64_t>(j - i) < options.batch && windows[j].end - windows[j].begin == len) {
      batch_ids.insert(batch_ids.end(), ids.begin() + windows[j].begin, ids.begin() + windows[j].end);
      ++j;
    }
    const int64_t batch = static_cast<int64_t>(j - i);
    const auto hidden = [&](const ReferenceModel& m) {
      return decoder::forwardHidden(m.config(), m.weights(), batch_ids, batch, len)
          .narrow(1, 0, len - 1)
          .reshape({batch * (len - 1), -1});
    };
    const at::Tensor hb = hidden(base), hc = hidden(candidate);
    const at::Tensor targets = at::from_blob(batch_ids.data(), {batch, len}, at::kInt)
                                   .narrow(1, 1, len - 1)
                                   .reshape({batch * (len - 1), 1})
                                   .to(at::kLong);
    const int64_t rows = hb.size(0);
    for (int64_t r = 0; r < rows; r += kRows) {
      const int64_t n = std::min(kRows, rows - r);
      const at::Tensor lb = at::matmul(hb.narrow(0, r, n), base.weights().head.t());
      const at::Tensor lc = at::matmul(hc.narrow(0, r, n), candidate.weights().head.t());
      const at::Tensor log_p = at::log_softmax(lb.to(at::kDouble), 1), log_q = at::log_softmax(lc.to(at::kDouble), 1);
      const at::Tensor t = targets.narrow(0, r, n);
      base_nll -= log_p.gather(1, t).sum().item<double>();
      candidate_nll -= log_q.gather(1, t).sum().item<double>();
      kl += (log_p.exp() * (log_p - log_q)).sum().item<double>();
      agree += lb.argmax(1).eq(lc.argmax(1)).sum().item<int64_t>();
    }
    scored += rows;
    i = j;
    if (progress) progress(static_cast<int64_t>(i), static_cast<int64_t>(windows.size()));
  }
  ComparisonResult r;
  r.tokens_scored = scored;
  r.base_mean_nll = base_nll / static_cast<double>(scored);
  r.candidate_mean_nll = candidate_nll / static_cast<double>(scored);
  r.base_perplexity = std::exp(r.base_mean_nll);
  r.candidate_perplexity = std::exp(r.candidate_mean_nll);
  r.top1_agreement = static_cast<double>(agree) / static_cast<double>(scored);
  r.mean_kl = kl / static_cast<double>(scored);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace slmc
