#include "passes/distill/distill_trainer.h"

namespace slmc {

using nlohmann::json;

json DistillOutcome::toJson() const {
  json curve_json = json::array(), evals_json = json::array();
  for (const DistillStep& r : curve)
    curve_json.push_back({{"step", r.step},
                          {"lr", r.lr},
                          {"loss", r.loss},
                          {"forward_kl", r.forward_kl},
                          {"reverse_kl", r.reverse_kl},
                          {"cross_entropy", r.cross_entropy},
                          {"grad_norm", r.grad_norm}});
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
