#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "lib/reference/bf16_autocast_torch.h"
#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"
#include "passes/quantize/weight_fisher.h"

namespace slmc {

namespace {

// The identity in the forward. In the backward it adds the square of the gradient arriving for
// the weight (summed over its uses: the tied embedding's lookup and head) to the weight's F and
// passes nothing on: no .grad is ever stored, so one weight's gradient at a time is alive
// instead of the whole model's (SmolLM2: 538 MB less at the peak).
struct FisherTap : public torch::autograd::Function<FisherTap> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& weight, at::Tensor fisher) {
    ctx->saved_data["fisher"] = fisher;
    return weight.view_as(weight);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor fisher = ctx->saved_data["fisher"].toTensor();
    fisher.addcmul_(grads[0], grads[0]);
    return {at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::map<std::string, std::vector<float>> weightFisher(const Model& model, const std::vector<std::string>& names,
                                                       const std::vector<int32_t>& ids, int64_t num_samples,
                                                       int64_t seq_len, bool bf16) {
  require(seq_len >= 2, "weight sensitivity needs calibration sequences of at least 2 tokens");
  require(static_cast<int64_t>(ids.size()) >= num_samples * seq_len, "weight sensitivity: fewer ids than samples");
  // The leaves view the model's weights (no copy), and F accumulates straight into the returned
  // arrays through the taps.
  distill::TrainableStudent student = distill::viewStudent(model);
  std::map<std::string, at::Tensor> fisher;
  std::map<std::string, std::vector<float>> out;
  for (auto& [name, leaf] : student.parameters) {
    // Gradients only where they are asked for: the embedding's alone would be vocab × hidden.
    const bool wanted = std::find(names.begin(), names.end(), name) != names.end();
    leaf.requires_grad_(wanted);
    if (!wanted) continue;
    std::vector<float>& f = out[name];
    f.assign(static_cast<size_t>(leaf.numel()), 0.0f);
    fisher[name] = at::from_blob(f.data(), leaf.sizes(), at::kFloat);
  }
  for (const std::string& name : names)
    require(fisher.count(name) != 0, "weight sensitivity: the model has no weight '" + name + "'");
  for (int64_t s = 0; s < num_samples; ++s) {
    // Tapped afresh for each sequence: a tap is a node of that sequence's graph.
    distill::TrainableStudent tapped = student;
    for (auto& [name, weight] : tapped.parameters)
      if (const auto f = fisher.find(name); f != fisher.end()) weight = FisherTap::apply(weight, f->second);
    const decoder::Weights weights = tapped.bind();
    const std::vector<int32_t> row(ids.begin() + s * seq_len, ids.begin() + (s + 1) * seq_len);
    at::Tensor logits;
    {
      const BfloatAutocast autocast(bf16);
      // Recomputing each layer in the backward keeps one layer's activations, not 30.
      logits = distill::decoderLogits(student.config, weights, row, 1, seq_len, nullptr, /*recompute=*/true)
                   .to(at::kFloat);
    }
    const int64_t vocab = logits.size(-1);
    const at::Tensor targets =
        at::tensor(std::vector<int64_t>(row.begin() + 1, row.end()), at::kLong);
    const at::Tensor next = logits.narrow(1, 0, seq_len - 1).reshape({-1, vocab});
    const at::Tensor loss = at::nll_loss(at::log_softmax(next, -1), targets);
    require(std::isfinite(loss.item<double>()),
            "weight sensitivity: the loss of calibration sample " + std::to_string(s) + " is not finite (check the weights for NaN)");
    loss.backward();
  }
  return out;
}

}  // namespace slmc
