#include "passes/distill/distill_trainer.h"

namespace slmc {

using nlohmann::json;

json stepJson(const DistillStep& r) {
  json j = {{"step", r.step},
            {"lr", r.lr},
            {"loss", r.loss},
            {"forward_kl", r.forward_kl},
            {"reverse_kl", r.reverse_kl},
            {"cross_entropy", r.cross_entropy},
            {"grad_norm", r.grad_norm}};
  if (r.hidden_mse != 0 || r.hidden_cosine != 0) {
    j["hidden_mse"] = r.hidden_mse;
    j["hidden_cosine"] = r.hidden_cosine;
  }
  return j;
}

DistillStep stepFromJson(const json& j) {
  DistillStep r;
  r.step = j.at("step");
  r.lr = j.at("lr");
  r.loss = j.at("loss");
  r.forward_kl = j.at("forward_kl");
  r.reverse_kl = j.at("reverse_kl");
  r.cross_entropy = j.at("cross_entropy");
  r.grad_norm = j.at("grad_norm");
  r.hidden_mse = j.value("hidden_mse", 0.0);
  r.hidden_cosine = j.value("hidden_cosine", 0.0);
  return r;
}

json DistillOutcome::toJson() const {
  json curve_json = json::array(), evals_json = json::array();
  for (const DistillStep& r : curve) curve_json.push_back(stepJson(r));
  for (const DistillEval& e : evals) evals_json.push_back({{"step", e.step}, {"perplexity", e.perplexity}});
  json j = {{"teacher_perplexity", teacher_perplexity},
            {"initial_perplexity", evals.empty() ? 0.0 : evals.front().perplexity},
            {"final_perplexity", evals.empty() ? 0.0 : evals.back().perplexity},
            {"steps", steps_done},
            {"resumed_from", resumed_from},
            {"tokens_per_step", tokens_per_step},
            {"data_parallel_ranks", ranks},
            {"tokens_trained", steps_done * tokens_per_step},
            {"train_seconds", seconds},
            {"tokens_per_second", tokens_per_second},
            {"heldout_perplexity", evals_json},
            {"loss_curve", curve_json}};
  if (!last_checkpoint.empty()) j["last_checkpoint"] = last_checkpoint;
  if (!teacher_cache.is_null()) j["teacher_cache"] = teacher_cache;
  return j;
}

}  // namespace slmc
