// slmc validate model.slmc [--reference MODEL] [--reference-dtype float32|float64]
//               (--tokens FILE | --data|--eval-data FILE|DIR|data.h5)
//               [--tokenizer PATH] [--ctx N] [--stride S] [--max-tokens K] [--json out.json]
// Runs the same token windows (lib/reference/perplexity.h's sliding windows) through the runtime
// (runtime/transformer.h) and through the LibTorch reference forward of MODEL (default: the
// pack itself, i.e. the very same quantized weights) and reports how far apart they are: the
// largest |logit difference|, top-1 agreement, mean KL(reference ‖ runtime), and both
// perplexities. --reference-dtype float64 runs the reference in float64: then the logit
// difference is the runtime's own error, not that plus a float32 reference's.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/token_source_flags.h"
#include "datasets/token_source.h"
#include "lib/format/checkpoint.h"
#include "lib/format/pack_reader.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "lib/report/report_figures.h"
#include "lib/report/report_file.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/progress.h"
#include "lib/support/version.h"
#include "lib/support/output_path.h"
#include "runtime/transformer.h"

namespace slmc {

namespace {

struct ValidateOptions {
  std::string model;
  std::string reference;
  std::string reference_dtype = "float32";
  TokenSourceOptions source;
  int64_t ctx = 256;
  int64_t stride = 0;
  std::string json_out;
};

struct Side {
  double nll_sum = 0, seconds = 0;
};

// log Σ exp(l) in float64.
double logSumExp(const float* l, int64_t n) {
  float m = l[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, l[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(l[i]) - m);
  return std::log(s) + m;
}

int64_t argmax(const float* l, int64_t n) { return std::max_element(l, l + n) - l; }

void runValidate(const ValidateOptions& o, const CommonOptions& common) {
  require(o.reference_dtype == "float32" || o.reference_dtype == "float64",
          "--reference-dtype '" + o.reference_dtype + "' is not a reference arithmetic (use float32 or float64)");
  if (o.source.tokens.empty() == o.source.data.empty())
    throw Error("validate: give exactly one of --tokens FILE or --data FILE|DIR|data.h5");
  // Checked before any work: a bad --json path fails in the first second, not after the run.
  if (!o.json_out.empty()) checkOutputFile(o.json_out, o.model, false, "--json");
  setComputeThreads(common.threads);
  runtime::setRuntimeThreads(common.threads);
  runtime::Transformer model = openPackForRuntime(o.model);
  const ModelConfig& c = model.config();
  requireContextFits(c, o.ctx);

  const std::string reference_path = o.reference.empty() ? o.model : o.reference;
  const Model reference_model = loadModel(reference_path);
  const ModelConfig& rc = reference_model.config;
  require(rc.vocab_size == c.vocab_size && rc.hidden_size == c.hidden_size && rc.num_layers == c.num_layers,
          "reference '" + reference_path + "' is not the same architecture as pack '" + o.model +
              "' (vocab, hidden size or layers differ; pass the model the pack was exported from)");

  TokenSourceOptions t = o.source;
  if (t.tokenizer.empty() && !t.data.empty()) t.tokenizer = packTokenizerPath(model.pack());
  Model shape_only;
  shape_only.config = c;
  const TokenSource source = loadTokenSource(t, shape_only, o.model);
  const std::vector<int32_t>& ids = source.ids;
  const std::vector<EvalWindow> windows = slidingWindows(static_cast<int64_t>(ids.size()), o.ctx, o.stride);
  const ReferenceModel reference(reference_model, o.reference_dtype == "float64" ? ReferencePrecision::Float64
                                                                                  : ReferencePrecision::Float32);

  const int64_t vocab = c.vocab_size;
  Side rt, ref;
  int64_t scored = 0, agree = 0;
  double max_diff = 0, kl_sum = 0;
  std::vector<float> rt_logits;
  Progress progress("validate", common.quiet);
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const EvalWindow& w = windows[wi];
    const int64_t len = w.end - w.begin;
    const std::vector<int32_t> window(ids.begin() + w.begin, ids.begin() + w.end);
    auto t0 = std::chrono::steady_clock::now();
    const Tensor ref_logits = reference.logits(window, 1, len);
    auto t1 = std::chrono::steady_clock::now();
    rt_logits.resize(static_cast<size_t>(len * vocab));
    model.reset();
    model.prefill(window.data(), len, rt_logits.data());
    auto t2 = std::chrono::steady_clock::now();
    ref.seconds += std::chrono::duration<double>(t1 - t0).count();
    rt.seconds += std::chrono::duration<double>(t2 - t1).count();
    for (int64_t target = w.score_from; target < w.end; ++target) {
      const int64_t row = target - w.begin - 1;
      const float* a = ref_logits.floats() + row * vocab;
      const float* b = rt_logits.data() + row * vocab;
      const int32_t next = ids[static_cast<size_t>(target)];
      const double lse_a = logSumExp(a, vocab), lse_b = logSumExp(b, vocab);
      ref.nll_sum += lse_a - a[next];
      rt.nll_sum += lse_b - b[next];
      double kl = 0;
      for (int64_t i = 0; i < vocab; ++i) {
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - b[i]));
        const double la = a[i] - lse_a, lb = b[i] - lse_b;
        kl += std::exp(la) * (la - lb);
      }
      kl_sum += kl;
      agree += argmax(a, vocab) == argmax(b, vocab);
      ++scored;
    }
    progress.update(static_cast<int64_t>(wi + 1), static_cast<int64_t>(windows.size()));
  }
  const double rt_ppl = std::exp(rt.nll_sum / static_cast<double>(scored));
  const double ref_ppl = std::exp(ref.nll_sum / static_cast<double>(scored));
  const double agreement = static_cast<double>(agree) / static_cast<double>(scored);
  const double rel = std::fabs(rt_ppl - ref_ppl) / ref_ppl;

  std::printf("validate   runtime %s vs reference %s (%s)  windows %zu  tokens_scored %lld  ctx %lld\n",
              o.model.c_str(), reference_path.c_str(), o.reference_dtype.c_str(), windows.size(),
              static_cast<long long>(scored), static_cast<long long>(o.ctx));
  std::printf("logits     max |diff| %.3g  top-1 agreement %.4f  mean KL %.3g\n", max_diff, agreement,
              kl_sum / static_cast<double>(scored));
  std::printf("perplexity runtime %.4f  reference %.4f  relative diff %.3g\n", rt_ppl, ref_ppl, rel);
  std::printf("time       runtime %.2fs  reference %.2fs\n", rt.seconds, ref.seconds);
  if (!o.json_out.empty()) {
    nlohmann::json j = {
        {"schema_version", kReportSchemaVersion},
        {"slmc_version", kVersion},
        {"command", "validate"},
        {"model", o.model},
        {"reference_model", reference_path},
        {"reference_dtype", o.reference_dtype},
        {"input", source.provenance},
        {"ctx", o.ctx},
        {"stride", o.stride > 0 ? o.stride : o.ctx},
        {"windows", windows.size()},
        {"tokens_scored", scored},
        {"max_abs_logit_diff", max_diff},
        {"top1_agreement", agreement},
        {"mean_kl", kl_sum / static_cast<double>(scored)},
        {"perplexity_relative_diff", rel},
        {"runtime", {{"perplexity", rt_ppl}, {"mean_nll", rt.nll_sum / scored}, {"seconds", rt.seconds}}},
        {"reference", {{"perplexity", ref_ppl}, {"mean_nll", ref.nll_sum / scored}, {"seconds", ref.seconds}}}};
    j["figures"] = figuresOf(j);  // the names every report shares
    writeFileAtomically(o.json_out, j.dump(2) + "\n");
  }
}

}  // namespace

void setupValidate(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<ValidateOptions>();
  CLI::App* sub =
      app.add_subcommand("validate", "Compare the runtime on a .slmc pack with the LibTorch reference forward");
  sub->add_option("model", opts->model, ".slmc pack (slmc export)")->required();
  sub->add_option("--reference", opts->reference,
                  "model the reference forward runs: HF directory, GGUF, llama2.c .bin, quantized directory or pack "
                  "(default: the pack itself)");
  sub->add_option("--reference-dtype", opts->reference_dtype,
                  "arithmetic of the reference forward: float32 (as transformers runs the checkpoint) or float64 "
                  "(the exact logits, up to float64 rounding: the difference is then the runtime's own error)");
  addTokenSourceFlags(sub, opts->source, "--data,--eval-data",
                      "tokenizer for text --data (default: the one embedded in the pack)");
  sub->add_option("--ctx", opts->ctx, "window length in tokens");
  sub->add_option("--stride", opts->stride, "tokens between window starts (default: --ctx)");
  sub->add_option("--json", opts->json_out, "also write the figures as JSON to this file");
  sub->callback([opts, &common] { runValidate(*opts, common); });
}

}  // namespace slmc
