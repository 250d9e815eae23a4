#include "passes/distill/distill_torch.h"

namespace slmc::distill {

LossTerms distillLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& ids,
                      const DistillLossWeights& weights) {
  const int64_t vocab = student_logits.size(-1), seq = student_logits.size(1);
  const double t = weights.temperature, t2 = t * t;
  const at::Tensor s_log = at::log_softmax(student_logits.reshape({-1, vocab}) / t, -1);
  const at::Tensor t_log = at::log_softmax(teacher_logits.reshape({-1, vocab}) / t, -1);
  // Σ_v p(v)·(log p(v) − log q(v)) per token, averaged over tokens.
  const auto kl = [](const at::Tensor& log_p, const at::Tensor& log_q) {
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean();
  };
  const auto cross_entropy = [&] {
    const at::Tensor next = student_logits.narrow(1, 0, seq - 1).reshape({-1, vocab});
    const at::Tensor targets = ids.narrow(1, 1, seq - 1).reshape({-1});
    return at::nll_loss(at::log_softmax(next, -1), targets);
  };
  LossTerms terms;
  // A term with weight 0 is still reported, but outside the graph.
  const auto term = [&](double weight, const auto& compute, at::Tensor& out) {
    if (weight != 0) {
      const at::Tensor value = compute();
      out = value.detach();
      terms.total = terms.total.defined() ? terms.total + weight * value : weight * value;
    } else {
      at::NoGradGuard no_grad;
      out = compute();
    }
  };
  term(weights.forward_kl, [&] { return t2 * kl(t_log, s_log); }, terms.forward_kl);
  term(weights.reverse_kl, [&] { return t2 * kl(s_log, t_log); }, terms.reverse_kl);
  term(weights.cross_entropy, cross_entropy, terms.cross_entropy);
  return terms;
}

}  // namespace slmc::distill
