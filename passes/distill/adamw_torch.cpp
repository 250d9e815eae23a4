#include <cmath>

#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

AdamW::AdamW(std::vector<at::Tensor> parameters, std::vector<bool> decayed, const DistillOptions& options)
    : parameters_(std::move(parameters)),
      decayed_(std::move(decayed)),
      beta1_(options.beta1),
      beta2_(options.beta2),
      epsilon_(options.epsilon),
      weight_decay_(options.weight_decay) {
  require(decayed_.size() == parameters_.size(), "AdamW: one decay flag per parameter");
  for (const at::Tensor& p : parameters_) {
    exp_avg_.push_back(at::zeros_like(p.detach()));
    exp_avg_sq_.push_back(at::zeros_like(p.detach()));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++steps_;
  const double correction1 = 1 - std::pow(beta1_, static_cast<double>(steps_));
  const double correction2 = 1 - std::pow(beta2_, static_cast<double>(steps_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor p = parameters_[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (weight_decay_ != 0 && decayed_[i]) p.mul_(1 - lr * weight_decay_);
    exp_avg_[i].mul_(beta1_).add_(g, 1 - beta1_);
    exp_avg_sq_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    const at::Tensor denom = (exp_avg_sq_[i].sqrt() / std::sqrt(correction2)).add_(epsilon_);
    p.addcdiv_(exp_avg_[i], denom, -lr / correction1);
  }
}

void AdamW::restore(int64_t steps, std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq) {
  steps_ = steps;
  exp_avg_ = std::move(exp_avg);
  exp_avg_sq_ = std::move(exp_avg_sq);
}

double clipGradNorm(const std::vector<at::Tensor>& parameters, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  if (norms.empty()) return 0;
  const double total = at::stack(norms).norm().item<double>();
  if (max_norm > 0 && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (const at::Tensor& p : parameters)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
  return total;
}

}  // namespace slmc::distill
