// slmc export MODEL -o OUT [--format hf|pack|gguf] [--quant-format slmc|compressed-tensors|gptq] [--tokenizer FILE] [--float-dtype f32|f16|bf16]
//                          [--exact] [--force] [--report FILE]
// The `export` pass (passes/export/export_pass.h) run on its own:
//   hf:   a Hugging Face directory (config.json + model.safetensors) that transformers loads as is;
//         quantized weights in slmc's layout, or with --quant-format compressed-tensors in the
//         pack-quantized layout transformers and vLLM load (lib/format/compressed_tensors.h), or
//         with --quant-format gptq as an AutoGPTQ checkpoint (lib/format/gptq_checkpoint.h).
//   pack: one .slmc file (lib/format/pack_format.h, docs/pack-format.md) with the tokenizer inside;
//         chosen by --format pack or an output name ending in .slmc.
//   gguf: one llama.cpp GGUF (lib/format/gguf/gguf_export.h); chosen by --format gguf or a name ending
//         in .gguf. Writes a JSON report (default OUT.report.json): per tensor the ggml type,
//         whether it is exact, and the error a re-encoding added.
// Float tensors are written at --float-dtype, or each at its default (lib/format/float_dtype.h).
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "lib/format/checkpoint.h"
#include "lib/format/float_dtype.h"
#include "lib/pipeline/pass.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/output_path.h"
#include "lib/support/version.h"
#include "passes/export/export_pass.h"

namespace slmc {

namespace {
struct ExportOptions {
  std::string model;
  std::string format;  // "" : from the output's name
  std::string quant_format;  // hf: "" : slmc's layout
  std::string output;
  std::string tokenizer;
  std::string float_dtype;  // "": each tensor's default
  bool exact = false;  // gguf: refuse re-encoding
  bool force = false;  // replace an existing output; allow -o == the input
  std::string report;  // gguf: report path ("" : OUT.report.json)
};

void runExport(const ExportOptions& o, const CommonOptions& common) {
  ExportPass pass;
  OptionAssignments options;
  if (!o.format.empty()) options.emplace_back("format", o.format);
  if (!o.quant_format.empty()) options.emplace_back("quant_format", o.quant_format);
  if (!o.tokenizer.empty()) options.emplace_back("tokenizer", o.tokenizer);
  if (o.exact) options.emplace_back("exact", "true");
  pass.parseOptions(options);
  const ExportSettings settings = pass.settingsFor(o.output);
  // Every check before the model is read: a bad -o must not cost a load.
  checkExportSettings(settings, o.model, o.force);
  require(settings.format == "gguf" || o.report.empty(), "--exact and --report apply to --format gguf only");
  const std::string report_path = settings.format != "gguf" ? "" : o.report.empty() ? o.output + ".report.json" : o.report;
  if (!o.report.empty()) checkOutputFile(o.report, o.model, o.force, "--report");
  if (!o.float_dtype.empty()) parseFloatDType(o.float_dtype);

  Model model = loadModel(o.model);
  PassContext context;
  context.threads = common.threads;
  context.quiet = common.quiet;
  context.output = o.output;
  context.float_dtype = o.float_dtype;
  const PassResult result = pass.run(model, context);
  if (!report_path.empty()) {
    nlohmann::json report = {{"schema_version", 1},          {"slmc_version", kVersion}, {"command", "export"},
                             {"source_model", model.source}, {"warnings", result.warnings}};
    report.update(result.figures);
    // The file keeps its object of tensors per ggml type (the figures hold it as text, for
    // Markdown), counted from the per-tensor rows.
    std::map<std::string, size_t> types;
    for (const nlohmann::json& t : result.figures.at("tensors")) ++types[t.at("ggml_type").get<std::string>()];
    report["tensor_types"] = types;
    writeFileAtomically(report_path, report.dump(2) + "\n");
  }
  if (common.quiet) return;
  std::printf("%s\n", result.summary.c_str());
  for (const std::string& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!report_path.empty()) std::printf("report: %s\n", report_path.c_str());
}
}  // namespace

void setupExport(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a model in another checkpoint format");
  sub->add_option("model", opts->model, "Hugging Face model directory, GGUF, llama2.c .bin or .slmc pack")->required();
  sub->add_option("--format", opts->format,
                  "output format: hf (directory), pack (.slmc file) or gguf (llama.cpp); default: pack when "
                  "the output ends in .slmc, gguf when it ends in .gguf, hf otherwise")
      ->check(CLI::IsMember({"hf", "pack", "gguf"}));
  sub->add_option("--quant-format", opts->quant_format,
                  "hf: how quantized weights are stored: slmc (default; slmc loads it back exactly) or "
                  "compressed-tensors (pack-quantized int4/int8 weight-only, which transformers and vLLM load) or "
                  "gptq (AutoGPTQ's qweight/qzeros/scales/g_idx for one int2/int4/int8 scheme over every block "
                  "linear, which transformers, vLLM and ExLlama load)")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kHfQuantFormats), std::end(kHfQuantFormats))));
  sub->add_option("-o,--output", opts->output, "output directory (hf) or file (pack, gguf)")->required();
  sub->add_option("--tokenizer", opts->tokenizer,
                  "pack: tokenizer file to embed; gguf: a tokenizer.json or .gguf whose vocabulary to write "
                  "(default: the tokenizer of the model's directory, GGUF or pack)");
  sub->add_option("--float-dtype", opts->float_dtype,
                  "dtype of the float tensors: f32, f16 or bf16 (default: each keeps its own; GGUF tensors "
                  "dequantized from a quantized type: bf16)");
  sub->add_flag("--exact", opts->exact,
                "gguf: fail instead of re-encoding a tensor whose grid no ggml type holds exactly");
  sub->add_flag("--force", opts->force, "replace an existing output (atomically), or the input model itself");
  sub->add_option("--report", opts->report, "gguf: JSON report path (default: OUT.report.json)");
  sub->callback([opts, &common] { runExport(*opts, common); });
}

}  // namespace slmc
