// slmc eval MODEL (--tokens FILE | --data FILE|DIR|data.h5 [--tokenizer PATH]) --ctx N [--stride S]
//           [--data-format F] [--field NAME] [--max-tokens K] [--json out.json]
// --data text is tokenized with the boundary policy of datasets/sample_builder.h (BOS per
// document) into one stream; a data.h5 from `slmc dataset build` contributes its samples'
// ids concatenated in row order. Either stream is then scored with sliding windows; with
// --ctx equal to the dataset's seq_len each window is exactly one sample.
// A .slmc pack is scored by the LibTorch-free runtime (same windows; --engine reference runs
// the reference forward on it instead); --batch applies to the reference only.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
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

PerplexityResult runtimePerplexity(runtime::Transformer& model, const std::vector<int32_t>& ids, int64_t ctx,
                                   int64_t stride, bool second_half,
                                   const std::function<void(int64_t, int64_t)>& progress) {
  requireContextFits(model.config(), ctx);
  require(ctx <= model.context(), "--ctx " + std::to_string(ctx) + " exceeds the runtime's context of " +
                                      std::to_string(model.context()) + " tokens (use a smaller --ctx)");
  const std::vector<EvalWindow> windows = evalWindows(static_cast<int64_t>(ids.size()), ctx, stride, second_half);
  PerplexityResult r;
  r.windows = static_cast<int64_t>(windows.size());
  double nll_sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < windows.size(); ++i) {
    const EvalWindow& w = windows[i];
    nll_sum += runtime::windowNll(model, ids.data(), w.begin, w.end, w.score_from);
    r.tokens_scored += w.end - w.score_from;
    r.tokens_forwarded += w.end - w.begin;
    if (progress) progress(static_cast<int64_t>(i + 1), r.windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.mean_nll = nll_sum / static_cast<double>(r.tokens_scored);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

namespace {
struct EvalOptions {
  std::string model;
  TokenSourceOptions source;
  int64_t ctx = 256;
  int64_t stride = 0;
  int64_t batch = 4;
  bool second_half = false;  // llama-perplexity's windows (secondHalfWindows)
  std::string json_out;
  std::string engine = "auto";  // auto: the runtime for a .slmc pack, the reference otherwise
};

// Prints the figures of either engine and writes --json; `engine_figures` holds what only that
// engine reports (the runtime names itself; the reference adds its batch and GFLOP/s).
void reportEval(const EvalOptions& o, const PerplexityResult& r, const nlohmann::json& input, int threads,
                const nlohmann::json& engine_figures) {
  const double tokens_per_s = static_cast<double>(r.tokens_forwarded) / r.seconds;
  const int64_t stride = o.stride > 0 ? o.stride : o.ctx;
  std::printf("perplexity %.4f  mean_nll %.5f  tokens_scored %lld  windows %lld  ctx %lld  stride %lld%s\n",
              r.perplexity, r.mean_nll, static_cast<long long>(r.tokens_scored), static_cast<long long>(r.windows),
              static_cast<long long>(o.ctx), static_cast<long long>(stride), o.second_half ? "  second half" : "");
  if (engine_figures.contains("gflops_per_second"))
    std::printf("speed      %.0f tokens/s  %.2f GFLOP/s  %.2fs  threads %d\n", tokens_per_s,
                engine_figures["gflops_per_second"].get<double>(), r.seconds, threads);
  else
    std::printf("speed      %.0f tokens/s  %.2fs  threads %d  engine runtime\n", tokens_per_s, r.seconds, threads);
  if (o.json_out.empty()) return;
  nlohmann::json j = {{"schema_version", kReportSchemaVersion},
                      {"slmc_version", kVersion},
                      {"command", "eval"},
                      {"model", o.model},
                      {"input", input},
                      {"ctx", o.ctx},
                      {"stride", stride},
                      {"scored", o.second_half ? "second half" : "sliding"},
                      {"threads", threads},
                      {"windows", r.windows},
                      {"tokens_scored", r.tokens_scored},
                      {"tokens_forwarded", r.tokens_forwarded},
                      {"mean_nll", r.mean_nll},
                      {"perplexity", r.perplexity},
                      {"seconds", r.seconds},
                      {"tokens_per_second", tokens_per_s}};
  j.update(engine_figures);
  j["figures"] = figuresOf(j);  // the names every report shares
  writeFileAtomically(o.json_out, j.dump(2) + "\n");
}

// A .slmc pack scored by the runtime (runtime/transformer.h) over the same windows.
void runEvalRuntime(const EvalOptions& o, const CommonOptions& common) {
  runtime::setRuntimeThreads(common.threads);
  runtime::Transformer model = openPackForRuntime(o.model);
  requireContextFits(model.config(), o.ctx);  // before any data is read or tokenized
  TokenSourceOptions t = o.source;
  if (t.tokenizer.empty() && !t.data.empty()) t.tokenizer = packTokenizerPath(model.pack());
  Model shape_only;  // loadTokenSource checks the tokenizer against the config only
  shape_only.config = model.config();
  TokenSource tokens = loadTokenSource(t, shape_only, o.model);
  Progress progress("eval", common.quiet);
  const PerplexityResult r = runtimePerplexity(model, tokens.ids, o.ctx, o.stride, o.second_half,
                                               [&](int64_t done, int64_t total) { progress.update(done, total); });
  reportEval(o, r, tokens.provenance, runtime::runtimeThreads(), {{"engine", "runtime"}});
}

void runEval(const EvalOptions& o, const CommonOptions& common) {
  if (o.source.tokens.empty() == o.source.data.empty())
    throw CLI::ValidationError("eval", "give exactly one of --tokens FILE or --data FILE|DIR|data.h5");
  // Checked before any work: a bad --json path fails in the first second, not after the run.
  if (!o.json_out.empty()) checkOutputFile(o.json_out, o.model, false, "--json");
  if (o.engine == "runtime" || (o.engine == "auto" && looksLikePack(o.model))) return runEvalRuntime(o, common);
  setComputeThreads(common.threads);
  const Model model = loadModel(o.model);
  requireContextFits(model.config, o.ctx);  // before any data is read or tokenized
  TokenSource tokens = loadTokenSource(o.source, model, o.model);
  const nlohmann::json source = tokens.provenance;
  const std::vector<int32_t> ids = std::move(tokens.ids);
  const ReferenceModel reference(model);
  PerplexityOptions popts;
  popts.ctx = o.ctx;
  popts.stride = o.stride;
  popts.batch = o.batch;
  popts.second_half = o.second_half;
  Progress progress("eval", common.quiet);
  const PerplexityResult r =
      evaluatePerplexity(reference, ids, popts, [&](int64_t done, int64_t total) { progress.update(done, total); });
  reportEval(o, r, source, computeThreads(),
             {{"batch", o.batch}, {"gflops_per_second", r.forward_flops / r.seconds / 1e9}});
}
}  // namespace

void setupEval(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Perplexity of a model over a token stream (sliding windows)");
  sub->add_option("model", opts->model, "Hugging Face model directory, GGUF, llama2.c .bin, or .slmc pack (run in the runtime)")->required();
  addTokenSourceFlags(sub, opts->source, "--data",
                      "tokenizer for text --data: tokenizer.json, tokenizer.bin, tokenizer.model (default: "
                      "tokenizer.json in the model directory, or the tokenizer embedded in a pack)");
  sub->add_option("--ctx", opts->ctx, "window length in tokens")->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  sub->add_option("--stride", opts->stride, "tokens between window starts (default: --ctx)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--second-half", opts->second_half,
                "score only the second half of whole non-overlapping windows, as llama.cpp's llama-perplexity does "
                "(its figures and slmc's then come from the same targets)");
  sub->add_option("--batch", opts->batch, "windows per forward")->check(CLI::Range(int64_t{1}, int64_t{1024}));
  sub->add_option("--json", opts->json_out, "also write the figures as JSON to this file");
  sub->add_option("--engine", opts->engine,
                  "auto (the runtime for a .slmc pack, else the LibTorch reference), runtime or reference")
      ->check(CLI::IsMember({"auto", "runtime", "reference"}));
  sub->callback([opts, &common] { runEval(*opts, common); });
}

}  // namespace slmc
