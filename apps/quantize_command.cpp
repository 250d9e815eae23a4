// slmc quantize MODEL --method rtn|gptq|awq|smoothquant --bits B --group-size G [--embedding S] --data CALIB
//                --samples N --seq-len L -o OUT [--eval-data EVAL] [--report r.json]
// A thin adapter: the flags become one `quantize(...)` pipeline item (the same text
// `slmc compress --passes` takes), run by the shared compress runner.
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "lib/pipeline.h"

namespace slmc {

namespace {
struct QuantizeFlags {
  std::string method = "rtn";
  int64_t bits = 4;
  int64_t group_size = 128;
  bool asymmetric = false;
  bool strict_groups = false;
  std::vector<std::string> keep;
  std::string observer;
  std::string embedding;
  std::vector<std::string> schemes;
  bool no_scale_search = false;
  bool act_order = false;
  double damp = -1;
  double alpha = -1;
  std::string act_mode;
};
}  // namespace

void setupQuantize(CLI::App& app, const CommonOptions& common) {
  auto job = std::make_shared<CompressJob>();
  auto q = std::make_shared<QuantizeFlags>();
  CLI::App* sub = app.add_subcommand("quantize", "Post-training quantization (RTN, GPTQ, AWQ, SmoothQuant W8A8)");
  sub->add_option("model", job->model, "Hugging Face model directory, GGUF or llama2.c .bin")->required();
  sub->add_option("--method", q->method, "rtn (no data), gptq, awq or smoothquant (W8A8)")
      ->check(CLI::IsMember({"rtn", "gptq", "awq", "smoothquant"}));
  CLI::Option* bits = sub->add_option("--bits", q->bits, "weight bits: 2, 3, 4 or 8 (smoothquant: 8)");
  CLI::Option* group = sub->add_option("--group-size", q->group_size, "columns per scale; 0 = per-channel (default 128)");
  sub->add_flag("--asymmetric", q->asymmetric, "a zero point per group (default: symmetric)");
  sub->add_flag("--strict-groups", q->strict_groups,
                "fail on tensors the group size does not divide (default: per-channel fallback with a warning)");
  CLI::Option* keep = sub->add_option("--keep", q->keep, "weights kept in float (default lm_head,embed; re:REGEX allowed)")
                          ->delimiter(',');
  CLI::Option* observer = sub->add_option("--observer", q->observer, "weight grid observer: minmax, percentile, mse, kl");
  CLI::Option* embedding = sub->add_option("--embedding", q->embedding,
                                           "scheme of the embedding and output head, e.g. int8-channel or int4-g32 "
                                           "(default: kept in float by --keep)");
  CLI::Option* schemes =
      sub->add_option("--scheme", q->schemes, "per-tensor scheme PATTERN=SCHEME, repeatable (e.g. mlp.down_proj=int8-g32)");
  sub->add_flag("--no-scale-search", q->no_scale_search,
                "rtn, gptq: plain grids (signed extreme / min-max) instead of the importance-weighted scale search");
  sub->add_flag("--act-order", q->act_order, "gptq: quantize columns in decreasing Hessian-diagonal order");
  CLI::Option* damp = sub->add_option("--damp", q->damp, "gptq: Hessian damping fraction (default 0.01)");
  CLI::Option* alpha = sub->add_option("--alpha", q->alpha, "smoothquant: migration strength (default 0.5)");
  CLI::Option* act_mode = sub->add_option("--act-mode", q->act_mode, "smoothquant: dynamic or static activation scales");
  addCompressFlags(sub, *job);
  sub->callback([job, q, &common, bits, group, keep, observer, embedding, schemes, damp, alpha, act_mode] {
    PassInvocation inv{"quantize", {{"method", q->method}}};
    // Only what was given: the pass's own defaults (and their method-specific variants) apply.
    if (bits->count()) inv.options.emplace_back("bits", std::to_string(q->bits));
    if (group->count()) inv.options.emplace_back("group_size", std::to_string(q->group_size));
    if (q->asymmetric) inv.options.emplace_back("symmetric", "false");
    if (q->strict_groups) inv.options.emplace_back("strict_groups", "true");
    if (keep->count()) inv.options.emplace_back("keep", listValueText(q->keep));
    if (observer->count()) inv.options.emplace_back("observer", q->observer);
    if (embedding->count()) inv.options.emplace_back("embedding", q->embedding);
    if (schemes->count()) inv.options.emplace_back("schemes", listValueText(q->schemes));
    if (q->no_scale_search) inv.options.emplace_back("scale_search", "false");
    if (q->act_order) inv.options.emplace_back("act_order", "true");
    // Doubles go on as the user wrote them: std::to_string's fixed 6 decimals made 1e-7 into 0.0.
    if (damp->count()) inv.options.emplace_back("damp", damp->results().front());
    if (alpha->count()) inv.options.emplace_back("alpha", alpha->results().front());
    if (act_mode->count()) inv.options.emplace_back("act_mode", q->act_mode);
    CompressJob run = *job;
    run.pipeline = {inv};
    runCompressJob("quantize", run, common);
  });
}

}  // namespace slmc
