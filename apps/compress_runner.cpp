#include "apps/compress_runner.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "lib/format/checkpoint.h"
#include "lib/format/float_dtype.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/model/model_size.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "lib/report/gate.h"
#include "lib/report/markdown_table.h"
#include "lib/report/report.h"
#include "lib/report/report_figures.h"
#include "lib/report/report_file.h"
#include "lib/report/usage_error.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/output_path.h"
#include "lib/support/progress.h"
#include "passes/builtin_passes.h"
#include "passes/export/export_pass.h"

namespace slmc {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int64_t recipeInt(const Recipe& r, const std::map<std::string, std::string>& section, const std::string& key,
                  const std::string& section_name, int64_t lo, int64_t hi) {
  const std::string& text = section.at(key);
  const std::string where = "recipe '" + r.name + "': " + section_name + "." + key + " = '" + text + "'";
  long long v = 0;
  try {
    size_t used = 0;
    v = std::stoll(text, &used);
    if (used != text.size()) throw Error(where + " is not an integer");
  } catch (const std::exception&) {
    throw Error(where + " is not an integer");
  }
  require(v >= lo && v <= hi, where + " is out of range (give " + std::to_string(lo) + " to " + std::to_string(hi) + ")");
  return v;
}

// Recipe sections hold only known keys: a typo must not silently drop a setting.
void requireKnownKeys(const std::map<std::string, std::string>& section, const std::vector<std::string>& known,
                      const std::string& where) {
  for (const auto& [key, value] : section) {
    bool ok = false;
    for (const std::string& k : known) ok = ok || k == key;
    if (!ok) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where + ": unknown key '" + key + "' (known: " + list + ")");
    }
  }
}

}  // namespace

CompressFlags addCompressFlags(CLI::App* sub, CompressJob& job) {
  CompressFlags f;
  sub->add_option("--data", job.calibration.data,
                  "calibration data: text file, directory of .txt/.jsonl, or data.h5 from `slmc dataset build|generate`");
  sub->add_option("--tokenizer", job.calibration.tokenizer,
                  "tokenizer for text data (default: tokenizer.json in the model directory)");
  sub->add_option("--data-format", job.calibration.text_format, "text data format: auto, text, lines, paragraphs, jsonl")
      ->check(CLI::IsMember({"auto", "text", "lines", "paragraphs", "jsonl"}));
  sub->add_option("--field", job.calibration.field, "JSONL field holding the text");
  f.samples = sub->add_option("--samples", job.samples, "calibration samples")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  f.seq_len = sub->add_option("--seq-len", job.seq_len, "tokens per calibration sample")
                  ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  f.seed = sub->add_option("--seed", job.seed, "seed for choosing calibration samples");
  sub->add_option("--stats-cache", job.stats_cache,
                  "HDF5 file caching calibration statistics (reused when model, data, seed and pass match)");
  sub->add_option("--eval-data", job.eval.data, "evaluation text / directory / data.h5 (compared with the original)");
  sub->add_option("--eval-tokens", job.eval.tokens, "evaluation token ids: .txt (one per line) or .u32");
  f.eval_ctx = sub->add_option("--eval-ctx", job.eval_ctx, "evaluation window in tokens")
                   ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  sub->add_option("--eval-max-tokens", job.eval.max_tokens, "evaluate only the first K tokens (0: all)")
      ->check(CLI::NonNegativeNumber);
  f.float_dtype = sub->add_option("--float-dtype", job.float_dtype,
                                  "dtype of the tensors kept float: f32, f16 or bf16 (default: each keeps its own; "
                                  "GGUF tensors dequantized from a quantized type: bf16)");
  sub->add_option("-o,--output", job.output, "output: a Hugging Face directory (with the quantization state), or the .slmc / .gguf file an "
                  "export(format=pack|gguf) pass at the end of the pipeline writes")->required();
  f.gate = sub->add_option("--gate", job.gate,
                           "fail (exit 1, after writing the report) unless these hold, e.g. "
                           "\"ppl_increase<=5%,bytes<=0.3x\" (x and %: against the original, or --gate-baseline)");
  f.gate_baseline = sub->add_option("--gate-baseline", job.gate_baseline,
                                    "report JSON the relative --gate bounds compare with (default: the original model)");
  sub->add_option("--report", job.report, "report JSON path (a .md summary is written beside it; default "
                                          "OUTPUT/slmc_report.json)");
  sub->add_flag("--force", job.force, "replace an existing output directory (atomically), even the input model");
  return f;
}


void applyRecipe(const std::string& path, CompressJob& run, const CompressFlags& flags) {
  const Recipe r = parseRecipeFile(path);
  run.recipe = path;
  run.pipeline = r.passes;
  const std::string where = "recipe '" + path + "'";
  requireKnownKeys(r.calibration, {"samples", "seq_len", "seed"}, where + " calibration");
  requireKnownKeys(r.eval, {"ctx"}, where + " eval");
  if (r.calibration.count("samples") && !flags.samples->count())
    run.samples = recipeInt(r, r.calibration, "samples", "calibration", 1, int64_t{1} << 20);
  if (r.calibration.count("seq_len") && !flags.seq_len->count())
    run.seq_len = recipeInt(r, r.calibration, "seq_len", "calibration", 2, int64_t{1} << 20);
  if (r.calibration.count("seed") && !flags.seed->count())
    run.seed = static_cast<uint64_t>(recipeInt(r, r.calibration, "seed", "calibration", 0, std::numeric_limits<int64_t>::max()));
  if (r.eval.count("ctx") && !flags.eval_ctx->count()) run.eval_ctx = recipeInt(r, r.eval, "ctx", "eval", 2, int64_t{1} << 20);
  if (!r.float_dtype.empty() && !flags.float_dtype->count()) run.float_dtype = r.float_dtype;
  if (!r.gate.empty() && !flags.gate->count()) run.gate = r.gate;
  // The baseline sits next to the recipe (configs/baselines/…), wherever the job runs from.
  if (!r.gate_baseline.empty() && !flags.gate_baseline->count())
    run.gate_baseline = (std::filesystem::path(path).parent_path() / r.gate_baseline).string();
}

namespace {

std::string mibText(double bytes) { return formatDouble("%.2f MiB", bytes / (1 << 20)); }

// What a person reads at a glance when the run ends: what went in, what came out, how much
// smaller, how much worse, where the details are.
void printSummary(const CompressJob& job, const json& report, const std::string& report_path) {
  const json& in = report["models"]["original"];
  const json& out = report["models"]["compressed"];
  const json& f = report["figures"];
  std::printf("\n");
  std::printf("in         %s: %s parameters, %s, %.2f bits/weight\n", job.model.c_str(),
              withThousands(in["parameters"].get<int64_t>()).c_str(), mibText(in["bytes"].get<double>()).c_str(),
              in["bits_per_weight"].get<double>());
  std::printf("out        %s: %s parameters, %s, %.2f bits/weight  (%.2fx smaller)\n", job.output.c_str(),
              withThousands(out["parameters"].get<int64_t>()).c_str(), mibText(out["bytes"].get<double>()).c_str(),
              out["bits_per_weight"].get<double>(), f.value("size_ratio", 0.0));
  if (f.contains("perplexity"))
    std::printf("quality    perplexity %.4f -> %.4f (%+.2f%%), top-1 agreement %.2f%%, mean KL %.5f  (%lld tokens)\n",
                f["perplexity_original"].get<double>(), f["perplexity"].get<double>(), f["ppl_increase"].get<double>(),
                100.0 * f["top1"].get<double>(), f["kl"].get<double>(),
                static_cast<long long>(report["evaluation"]["tokens_scored"].get<int64_t>()));
  else
    std::printf("quality    not measured (give --eval-data or --eval-tokens)\n");
  std::printf("report     %s  (summary %s)\n", report_path.c_str(), markdownPathFor(report_path).c_str());
}

}  // namespace

void runCompressJob(const std::string& command, const CompressJob& given, const CommonOptions& common) {
  setComputeThreads(common.threads);
  require(!given.pipeline.empty(), "the pipeline is empty (give --passes or a recipe with passes)");
  CompressJob job = given;
  // `slmc quantize`, `prune` and `distill` cannot write export(...) themselves: an -o named like a
  // pack or a GGUF ends their pipeline in export(format=auto), which goes by that name. (compress
  // asks for the export to be written, so that a recipe says what it makes.)
  if (command != "compress" && job.pipeline.back().name != "export" &&
      (endsWith(job.output, ".slmc") || endsWith(job.output, ".gguf")))
    job.pipeline.push_back({"export", {}});
  std::optional<DType> float_dtype;
  if (!job.float_dtype.empty()) float_dtype = parseFloatDType(job.float_dtype);
  PassRegistry registry;
  registerBuiltinPasses(registry);
  PassManager manager(registry);
  manager.build(job.pipeline);
  // A pipeline that ends in export(...) writes its own artifact at -o (a directory or a file, by
  // its format); any other ends in an implicit export(format=hf). (An export that is not last is
  // refused by manager.validate, before any work.)
  const ExportPass* terminal = nullptr;
  for (size_t i = 0; i < manager.size() && !terminal; ++i) terminal = dynamic_cast<const ExportPass*>(&manager.pass(i));
  const ExportSettings artifact = terminal ? terminal->settingsFor(job.output) : ExportPass().settingsFor(job.output);
  require(terminal || artifact.format == "hf",
          "-o '" + job.output + "' is named like a " + (artifact.format == "pack" ? "pack" : "GGUF") +
              ", but the pipeline writes a Hugging Face directory (end it with export(format=" + artifact.format +
              "), or name the directory without the extension)");
  // Every output path before any work: a bad -o or --report must not cost a calibration.
  checkExportSettings(artifact, job.model, job.force);
  if (!job.report.empty()) checkOutputFile(job.report, job.model, false, "--report");
  require(job.eval.data.empty() || job.eval.tokens.empty(),
          "--eval-data and --eval-tokens were both given: evaluation reads one of them (drop the other)");
  // The gate and its baseline are checked before any work: a typo must not cost a calibration.
  const std::vector<GateCondition> gate = job.gate.empty() ? std::vector<GateCondition>{} : parseGate(job.gate);
  require(job.gate_baseline.empty() || !job.gate.empty(),
          "--gate-baseline '" + job.gate_baseline + "' is given without a --gate (add the conditions to check)");
  std::optional<ReportFile> baseline;
  if (!job.gate_baseline.empty()) {
    baseline = readReportFile(job.gate_baseline);
    const std::string ours = reportModelName(json{{"source_model", job.model}});
    if (reportModelName(baseline->json) != ours)
      throw UsageError("--gate-baseline '" + job.gate_baseline + "' is a report of '" + reportModelName(baseline->json) +
                       "', not of '" + ours + "' (give a baseline of the same model)");
  }
  // A helper rank of data-parallel training runs the passes up to the last distill (which it
  // shares) and stops: rank 0 alone runs the rest, writes the artifact and reports.
  const bool helper_rank = job.data_parallel.rank != 0;
  size_t shared_passes = manager.size();
  if (job.data_parallel.distributed()) {
    size_t last_distill = manager.size();
    for (size_t i = 0; i < manager.size(); ++i)
      if (manager.pass(i).argument() == "distill") last_distill = i;
    require(last_distill < manager.size(), "data-parallel ranks (--nproc, WORLD_SIZE) split distillation's batches, "
                                           "and this pipeline has no distill pass (run it as one process)");
    if (helper_rank) shared_passes = last_distill + 1;
  }
  const Model original = loadModel(job.model);

  PassContext context;
  context.threads = common.threads;
  context.quiet = common.quiet || helper_rank;
  context.data_parallel = job.data_parallel;
  context.seed = job.seed;
  context.stats_cache = job.stats_cache;
  context.original = &original;
  context.output = job.output;
  context.float_dtype = job.float_dtype;
  context.pipeline = manager.pipelineText();
  json calibration_provenance;  // set when a pass loads the calibration data
  if (!job.calibration.data.empty()) {
    require(job.seq_len <= original.config.max_position_embeddings,
            "--seq-len " + std::to_string(job.seq_len) + " exceeds the model's context of " +
                std::to_string(original.config.max_position_embeddings) + " tokens (use a smaller --seq-len)");
    context.setCalibration(
        [&job, &original, &calibration_provenance] {
          TokenSource source = loadTokenSource(job.calibration, original, job.model);
          SampleSelection chosen =
              selectSamples(source.ids, job.seq_len, job.samples, job.seed, "calibration data " + job.calibration.data);
          CalibrationSamples samples;
          samples.ids = std::move(chosen.ids);
          samples.num_samples = chosen.num_samples;
          samples.seq_len = chosen.seq_len;
          samples.provenance = source.provenance;
          samples.provenance["samples"] = chosen.num_samples;
          samples.provenance["seq_len"] = chosen.seq_len;
          samples.provenance["available_samples"] = chosen.available;
          samples.provenance["seed"] = job.seed;
          calibration_provenance = samples.provenance;
          return samples;
        },
        job.calibration.data + ", " + std::to_string(job.samples) + " x " + std::to_string(job.seq_len) + " tokens");
  }
  // Evaluation tokens are read before any pass runs: a bad --eval-data must not cost a
  // calibration first.
  std::vector<int32_t> eval_ids;
  json eval_source;
  const bool evaluate = !helper_rank && (!job.eval.data.empty() || !job.eval.tokens.empty());
  if (evaluate) {
    requireContextFits(original.config, job.eval_ctx);
    TokenSource source = loadTokenSource(job.eval, original, job.model);
    require(source.ids.size() >= 2, "evaluation data holds fewer than 2 tokens");
    eval_ids = std::move(source.ids);
    eval_source = source.provenance;
  }
  manager.validate(original, context);

  Model compressed = original;
  const std::vector<PassRecord> records = manager.run(compressed, context, shared_passes);
  if (helper_rank) return;
  if (!terminal) {
    // What the directory holds is what the report measures: the float tensors at their written dtype.
    compressed = withWrittenFloatDTypes(compressed, float_dtype);
    saveHfDirectory(compressed, job.output);
  }

  Report report;
  report.setCommand(command);
  report.setSourceModel(job.model);
  report.setPipeline(manager.pipelineText());
  report.setPasses(records);
  const ModelSize before = modelSize(original), after = modelSize(compressed);
  report.setOriginalModel(before);
  report.setCompressedModel(after);
  for (const std::string& w : context.warnings) report.addWarning(w);

  for (const PassRecord& r : records)
    std::printf("%-10s %s  (%.2fs, peak RSS %.0f MiB)\n", r.name.c_str(), r.result.summary.c_str(), r.seconds,
                static_cast<double>(r.peak_rss_bytes) / (1 << 20));
  json evaluation = {{"skipped", "no --eval-data or --eval-tokens"}};
  if (evaluate) {
    const ReferenceModel base(original), candidate(compressed);
    ComparisonOptions copts;
    copts.ctx = job.eval_ctx;
    copts.batch = job.eval_batch;
    Progress progress("evaluate", common.quiet);
    const ComparisonResult c = compareModels(base, candidate, eval_ids, copts,
                                             [&](int64_t done, int64_t total) { progress.update(done, total); });
    const double increase = 100.0 * (c.candidate_perplexity / c.base_perplexity - 1.0);
    evaluation = {{"input", eval_source},
                  {"ctx", job.eval_ctx},
                  {"tokens_scored", c.tokens_scored},
                  {"perplexity", {{"original", c.base_perplexity}, {"compressed", c.candidate_perplexity}}},
                  {"perplexity_increase_percent", increase},
                  {"mean_nll", {{"original", c.base_mean_nll}, {"compressed", c.candidate_mean_nll}}},
                  {"top1_agreement", c.top1_agreement},
                  {"mean_kl", c.mean_kl},
                  {"seconds", c.seconds}};
  }
  report.setEvaluation(evaluation);
  if (!calibration_provenance.is_null()) report.setCalibration(calibration_provenance);
  // Beside the artifact: inside a directory, next to a file.
  const std::string report_path = !job.report.empty()     ? job.report
                                  : artifact.format == "hf" ? (fs::path(job.output) / "slmc_report.json").string()
                                                            : job.output + ".report.json";
  report.write(report_path);
  printSummary(job, report.toJson(), report_path);
  if (gate.empty()) return;
  const json figures = report.toJson()["figures"];
  const json base = baseline ? figuresOf(baseline->json) : report.toJson()["original_figures"];
  const std::string base_name = baseline ? baseline->label : std::string("the original");
  const std::vector<GateCheck> checks = checkGate(gate, figures, base, base_name);
  std::string failures;
  size_t failed = 0;
  for (const GateCheck& c : checks) {
    std::printf("gate       %s\n", c.message.c_str());
    if (!c.passed) failures += (failures.empty() ? "" : "; ") + c.message, ++failed;
  }
  if (!failures.empty())
    throw Error("gate failed (" + std::to_string(failed) + " of " + std::to_string(checks.size()) +
                " conditions; the report is written): " + failures);
}

}  // namespace slmc
