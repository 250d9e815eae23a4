// slmc export MODEL -o OUT [--format hf|pack] [--tokenizer FILE]
//   hf:   a Hugging Face directory (config.json + model.safetensors) that transformers loads as is.
//   pack: one .slmc file (lib/pack_format.h, docs/pack-format.md) with the tokenizer inside;
//         chosen by --format pack or an output name ending in .slmc.
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "datasets/sha256.h"
#include "datasets/tokenizer.h"
#include "lib/checkpoint.h"
#include "lib/error.h"
#include "lib/file_util.h"
#include "lib/hf_checkpoint.h"
#include "lib/output_path.h"
#include "lib/pack_reader.h"
#include "lib/pack_writer.h"
#include "lib/temp_paths.h"
#include "lib/version.h"

namespace slmc {

namespace {
struct ExportOptions {
  std::string model;
  std::string format;  // "" : pack for a .slmc output, hf otherwise
  std::string output;
  std::string tokenizer;
  bool force = false;
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

// The tokenizer a pack will carry, parsed now: a broken tokenizer.json, a text file or a
// tokenizer larger than the model's vocabulary is refused at export, naming what was given,
// instead of failing later in `slmc run` naming a temporary path.
void checkPackTokenizer(const std::vector<EmbeddedFile>& files, const Model& model, const std::string& override_path) {
  if (files.empty()) return;
  const std::string label = override_path.empty() ? "the tokenizer files of '" + model.source + "'"
                                                  : "tokenizer '" + override_path + "'";
  std::string dir;
  std::unique_ptr<RegisteredTempPath> registered;
  std::unique_ptr<Tokenizer> tokenizer;
  const auto cleanup = [&] {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  };
  try {
    if (!override_path.empty()) {
      tokenizer = loadTokenizer(override_path);
    } else {
      std::string pattern = (std::filesystem::temp_directory_path() / "slmc-export-tokenizer-XXXXXX").string();
      require(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary directory (check TMPDIR)");
      dir = pattern;
      registered = std::make_unique<RegisteredTempPath>(dir);
      for (const EmbeddedFile& f : files) {
        std::ofstream out(dir + "/" + f.name, std::ios::binary);
        out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
        require(static_cast<bool>(out), "cannot write a temporary copy of the tokenizer (check TMPDIR)");
      }
      tokenizer = loadTokenizer(dir);
    }
  } catch (const Error& e) {
    cleanup();
    std::string why = e.what();
    if (!dir.empty())
      for (size_t at = why.find(dir); at != std::string::npos; at = why.find(dir, at)) why.replace(at, dir.size(), "<tokenizer>");
    throw Error("cannot pack " + label + ": it does not load as a tokenizer (" + why +
                "); pass a working one with --tokenizer FILE");
  }
  cleanup();
  require(tokenizer->vocabSize() <= model.config.vocab_size,
          "cannot pack " + label + ": it has " + std::to_string(tokenizer->vocabSize()) +
              " tokens but the model's vocabulary is " + std::to_string(model.config.vocab_size) +
              " (pass the tokenizer the model was trained with as --tokenizer FILE)");
}

void runExport(const ExportOptions& o, const CommonOptions& common) {
  const std::string format = !o.format.empty() ? o.format : endsWith(o.output, ".slmc") ? "pack" : "hf";
  require(format == "pack" || o.tokenizer.empty(),
          "--tokenizer applies to --format pack only (a Hugging Face export copies the source's tokenizer files)");
  require(format == "pack" || !endsWith(o.output, ".slmc"),
          "--format hf writes a directory, but -o '" + o.output +
              "' is named like a pack (drop --format hf to write a .slmc pack, or name the directory without .slmc)");
  if (format == "hf")
    checkOutputDirectory(o.output, o.model, o.force, "-o");
  else
    checkOutputFile(o.output, o.model, o.force, "-o");
  const Model model = loadModel(o.model);
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
  checkPackTokenizer(tokenizer, model, o.tokenizer);
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
  sub->add_flag("--force", opts->force, "replace an existing output directory, or the input model itself");
  sub->callback([opts, &common] { runExport(*opts, common); });
}

}  // namespace slmc
