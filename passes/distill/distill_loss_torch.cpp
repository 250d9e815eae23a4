#include <functional>

#include "passes/distill/distill_torch.h"

namespace slmc::distill {

namespace {

// Cross-entropy of the student on the next tokens ids[:, 1:] (temperature 1).
at::Tensor nextTokenCrossEntropy(const at::Tensor& student_logits, const at::Tensor& ids) {
  const int64_t vocab = student_logits.size(-1), seq = student_logits.size(1);
  const at::Tensor next = student_logits.narrow(1, 0, seq - 1).reshape({-1, vocab});
  const at::Tensor targets = ids.narrow(1, 1, seq - 1).reshape({-1});
  return at::nll_loss(at::log_softmax(next, -1), targets);
}

// The weighted sum of the terms; a term with weight 0 is still reported, but outside the graph
// (a null term, one the caller cannot compute, is reported as 0).
LossTerms weightedTerms(const DistillLossWeights& weights, const std::function<at::Tensor()>& forward_kl,
                        const std::function<at::Tensor()>& reverse_kl, const std::function<at::Tensor()>& ce) {
  LossTerms terms;
  const auto term = [&](double weight, const std::function<at::Tensor()>& compute, at::Tensor& out) {
    if (weight != 0) {
      const at::Tensor value = compute();
      out = value.detach();
      terms.total = terms.total.defined() ? terms.total + weight * value : weight * value;
    } else {
      at::NoGradGuard no_grad;
      out = compute ? compute() : at::zeros({}, at::kFloat);
    }
  };
  term(weights.forward_kl, forward_kl, terms.forward_kl);
  term(weights.reverse_kl, reverse_kl, terms.reverse_kl);
  term(weights.cross_entropy, ce, terms.cross_entropy);
  return terms;
}

// Σ_v p(v)·(log p(v) − log q(v)) per token, averaged over tokens.
at::Tensor meanKl(const at::Tensor& log_p, const at::Tensor& log_q) {
  return (log_p.exp() * (log_p - log_q)).sum(-1).mean();
}

}  // namespace

LossTerms distillLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& ids,
                      const DistillLossWeights& weights) {
  const int64_t vocab = student_logits.size(-1);
  const double t = weights.temperature, t2 = t * t;
  const at::Tensor s_log = at::log_softmax(student_logits.reshape({-1, vocab}) / t, -1);
  const at::Tensor t_log = at::log_softmax(teacher_logits.reshape({-1, vocab}) / t, -1);
  return weightedTerms(
      weights, [&] { return t2 * meanKl(t_log, s_log); }, [&] { return t2 * meanKl(s_log, t_log); },
      [&] { return nextTokenCrossEntropy(student_logits, ids); });
}

LossTerms distillLossTopK(const at::Tensor& student_logits, const at::Tensor& top_ids,
                          const at::Tensor& top_log_probs, const at::Tensor& ids, const DistillLossWeights& weights) {
  const int64_t vocab = student_logits.size(-1), k = top_ids.size(-1);
  const double t = weights.temperature, t2 = t * t;
  // KL between the two distributions coarsened to the teacher's k tokens plus one bucket for the
  // rest of the vocabulary: both sides keep their whole mass, so it is a lower bound of the full
  // KL that is tight when the teacher's tail is small, and exact at k = vocabulary.
  const auto forward_kl = [&] {
    const at::Tensor s_top =
        at::log_softmax(student_logits.reshape({-1, vocab}) / t, -1).gather(1, top_ids.reshape({-1, k}));
    const at::Tensor t_top = top_log_probs.reshape({-1, k});
    constexpr double kTiny = 1e-20;  // keeps log() finite where a side has no mass left
    const at::Tensor t_rest = (1 - t_top.exp().sum(-1)).clamp_min(0);
    const at::Tensor s_rest = (1 - s_top.exp().sum(-1)).clamp_min(kTiny);
    const at::Tensor tail = t_rest * (t_rest.clamp_min(kTiny).log() - s_rest.log());
    return t2 * ((t_top.exp() * (t_top - s_top)).sum(-1) + tail).mean();
  };
  return weightedTerms(weights, forward_kl, nullptr, [&] { return nextTokenCrossEntropy(student_logits, ids); });
}

}  // namespace slmc::distill
