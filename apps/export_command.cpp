// slmc export MODEL -o OUT [--format hf|pack] [--tokenizer FILE] [--float-dtype f32|f16|bf16]
//   hf:   a Hugging Face directory (config.json + model.safetensors) that transformers loads as is.
//   pack: one .slmc file (lib/pack_format.h, docs/pack-format.md) with the tokenizer inside;
//         chosen by --format pack or an output name ending in .slmc.
// Float tensors are written at --float-dtype, or each at its default (lib/float_dtype.h).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/commands.h"
#include "datasets/sha256.h"
#include "lib/checkpoint.h"
#include "lib/error.h"
#include "lib/file_util.h"
#include "lib/float_dtype.h"
#include "lib/hf_checkpoint.h"
#include "lib/pack_reader.h"
#include "lib/pack_writer.h"
#include "lib/version.h"

namespace slmc {

namespace {
struct ExportOptions {
  std::string model;
  std::string format;  // "" : pack for a .slmc output, hf otherwise
  std::string output;
  std::string tokenizer;
  std::string float_dtype;  // "": each tensor's default
};

// The digest that identifies a checkpoint: a single file's SHA-256, or for a directory the
// SHA-256 of its `sha256sum`-style manifest ("<hex>  <name>\n" per file, in checkpointFiles order).
std::string checkpointSha256(const std::string& source) {
  const std::vector<std::string> files = checkpointFiles(source);
  if (files.empty()) return "";
  if (files.size() == 1) return sha256File(files[0]);
  std::string manifest;
  for (const std::string& f : files) manifest += sha256File(f) + "  " + std::filesystem::path(f).filename().string() + "\n";
  return sha256Hex(manifest);
}

// The pipeline that produced the source's weights: a pack's recorded recipe, or the "pipeline"
// of the slmc_report.json that `slmc quantize` / `slmc compress` leave in their output directory.
std::string sourceRecipe(const std::string& source) {
  if (looksLikePack(source)) return PackFile::open(source).provenance().recipe;
  const std::string report = source + "/slmc_report.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(report, ec)) return "";
  try {
    return nlohmann::json::parse(readTextFile(report)).value("pipeline", std::string());
  } catch (const nlohmann::json::exception&) {
    return "";  // a damaged report only costs the provenance its recipe
  }
}

void runExport(const ExportOptions& o, const CommonOptions& common) {
  const std::string format = !o.format.empty() ? o.format : endsWith(o.output, ".slmc") ? "pack" : "hf";
  require(format == "pack" || o.tokenizer.empty(),
          "--tokenizer applies to --format pack only (a Hugging Face export copies the source's tokenizer files)");
  std::optional<DType> float_dtype;
  if (!o.float_dtype.empty()) float_dtype = parseFloatDType(o.float_dtype);
  const Model model = withWrittenFloatDTypes(loadModel(o.model), float_dtype);
  if (format == "hf") {
    saveHfDirectory(model, o.output);
    if (!common.quiet) std::printf("wrote %s (Hugging Face: config.json + model.safetensors)\n", o.output.c_str());
    return;
  }
  PackProvenance provenance;
  provenance.source = model.source;
  provenance.source_sha256 = checkpointSha256(model.source);
  provenance.slmc_version = kVersion;
  provenance.recipe = sourceRecipe(model.source);
  const std::vector<EmbeddedFile> tokenizer = tokenizerFilesFor(model, o.tokenizer);
  writePack(model, o.output, provenance, tokenizer);
  if (!common.quiet) {
    std::string files;
    for (const EmbeddedFile& f : tokenizer) files += (files.empty() ? "" : ", ") + f.name;
    std::printf("wrote %s (slmc pack v%u: %zu tensors, %zu quantized, %llu bytes; tokenizer: %s)\n", o.output.c_str(),
                pack::kFormatVersion, model.tensors.size(), model.quantized.size(),
                static_cast<unsigned long long>(std::filesystem::file_size(o.output)),
                files.empty() ? "none" : files.c_str());
  }
}
}  // namespace

void setupExport(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a model in another checkpoint format");
  sub->add_option("model", opts->model, "Hugging Face model directory, GGUF, llama2.c .bin or .slmc pack")->required();
  sub->add_option("--format", opts->format, "output format: hf (directory) or pack (.slmc file); default: pack when "
                                            "the output ends in .slmc, hf otherwise")
      ->check(CLI::IsMember({"hf", "pack"}));
  sub->add_option("-o,--output", opts->output, "output directory (hf) or file (pack)")->required();
  sub->add_option("--tokenizer", opts->tokenizer,
                  "pack: tokenizer file to embed (default: the tokenizer files of the model's directory)");
  sub->add_option("--float-dtype", opts->float_dtype,
                  "dtype of the float tensors: f32, f16 or bf16 (default: each keeps its own; GGUF tensors "
                  "dequantized from a quantized type: bf16)");
  sub->callback([opts, &common] { runExport(*opts, common); });
}

}  // namespace slmc
