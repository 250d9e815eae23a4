// slmc export MODEL -o OUT [--format hf|pack|gguf] [--tokenizer FILE] [--float-dtype f32|f16|bf16]
//                          [--exact] [--force] [--report FILE]
//   hf:   a Hugging Face directory (config.json + model.safetensors) that transformers loads as is.
//   pack: one .slmc file (lib/pack_format.h, docs/pack-format.md) with the tokenizer inside;
//         chosen by --format pack or an output name ending in .slmc.
//   gguf: one llama.cpp GGUF (lib/gguf/gguf_export.h); chosen by --format gguf or a name ending
//         in .gguf. Writes a JSON report (default OUT.report.json): per tensor the ggml type,
//         whether it is exact, and the error a re-encoding added.
// Float tensors are written at --float-dtype, or each at its default (lib/float_dtype.h).
#include <algorithm>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/commands.h"
#include "datasets/sha256.h"
#include "datasets/tokenizer.h"
#include "lib/atomic_file.h"
#include "lib/checkpoint.h"
#include "lib/error.h"
#include "lib/file_util.h"
#include "lib/float_dtype.h"
#include "lib/gguf/gguf_export.h"
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
  std::string float_dtype;  // "": each tensor's default
  bool exact = false;  // gguf: refuse re-encoding
  bool force = false;  // replace an existing output; allow -o == the input
  std::string report;  // gguf: report path ("" : OUT.report.json)
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

void exportGguf(const Model& model, const ExportOptions& o, const CommonOptions& common) {
  std::error_code ec;
  require(o.force || !std::filesystem::exists(o.output, ec),
          "output '" + o.output + "' exists (pass --force to replace it, or choose another -o path)");
  require(!std::filesystem::is_directory(o.output, ec), "output '" + o.output + "' is a directory (name a .gguf file)");
  std::string tokenizer_origin;
  const std::optional<gguf::GgufTokenizerMetadata> tokenizer = gguf::ggufTokenizerFor(model, o.tokenizer, tokenizer_origin);
  gguf::GgufExportOptions options;
  options.exact = o.exact;
  gguf::GgufExport gguf = gguf::buildGgufExport(model, tokenizer ? &*tokenizer : nullptr, options);
  if (!tokenizer)
    gguf.warnings.push_back("no tokenizer found beside '" + model.source +
                            "': the GGUF has no tokenizer.ggml.* keys, so llama.cpp cannot run it (pass --tokenizer)");

  nlohmann::json tensors = nlohmann::json::array();
  size_t exact = 0;
  double max_error = 0;
  std::map<std::string, size_t> types;
  for (const gguf::GgufTensorRecord& t : gguf.tensors) {
    nlohmann::json row = {{"name", t.name}, {"gguf_name", t.gguf_name}, {"source", t.source},
                          {"ggml_type", t.ggml_type}, {"exact", t.exact}};
    if (!t.reason.empty()) row["reason"] = t.reason;
    if (!t.exact) row["max_abs_error"] = t.max_abs_error, row["rms_error"] = t.rms_error;
    tensors.push_back(row);
    exact += t.exact;
    max_error = std::max(max_error, t.max_abs_error);
    ++types[t.ggml_type];
  }
  const uint64_t bytes = gguf.writer.write(o.output);
  nlohmann::json report = {{"schema_version", 1},
                           {"slmc_version", kVersion},
                           {"command", "export"},
                           {"format", "gguf"},
                           {"source_model", model.source},
                           {"output", o.output},
                           {"bytes", bytes},
                           {"tokenizer", tokenizer ? tokenizer_origin : ""},
                           {"exact", exact == gguf.tensors.size()},
                           {"tensor_types", types},
                           {"tensors_exact", exact},
                           {"tensors_reencoded", gguf.tensors.size() - exact},
                           {"max_abs_error", max_error},
                           {"tensors", tensors},
                           {"warnings", gguf.warnings}};
  const std::string report_path = o.report.empty() ? o.output + ".report.json" : o.report;
  writeFileAtomically(report_path, report.dump(2) + "\n");
  if (!common.quiet) {
    std::string mix;
    for (const auto& [type, n] : types) mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + type;
    std::printf("wrote %s (GGUF v3, llama: %zu tensors: %s; %s; %llu bytes; tokenizer: %s)\n", o.output.c_str(),
                gguf.tensors.size(), mix.c_str(),
                exact == gguf.tensors.size() ? "every tensor exact"
                                             : (std::to_string(gguf.tensors.size() - exact) + " re-encoded").c_str(),
                static_cast<unsigned long long>(bytes), tokenizer ? tokenizer_origin.c_str() : "none");
    for (const std::string& w : gguf.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("report: %s\n", report_path.c_str());
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
  const std::string format = !o.format.empty()            ? o.format
                             : endsWith(o.output, ".slmc") ? "pack"
                             : endsWith(o.output, ".gguf") ? "gguf"
                                                           : "hf";
  require(format != "hf" || o.tokenizer.empty(),
          "--tokenizer applies to --format pack and gguf only (a Hugging Face export copies the source's tokenizer files)");
  require(format == "gguf" || (!o.exact && o.report.empty()), "--exact and --report apply to --format gguf only");
  for (const char* ext : {".slmc", ".gguf"})
    require(format != "hf" || !endsWith(o.output, ext),
            "--format hf writes a directory, but -o '" + o.output + "' is named like a " +
                (ext == std::string(".slmc") ? "pack" : "GGUF") + " (drop --format hf to write one, or name the directory without " +
                ext + ")");
  if (format == "hf")
    checkOutputDirectory(o.output, o.model, o.force, "-o");
  else
    checkOutputFile(o.output, o.model, o.force, "-o");
  if (format == "gguf" && !o.report.empty()) checkOutputFile(o.report, o.model, o.force, "--report");
  std::optional<DType> float_dtype;
  if (!o.float_dtype.empty()) float_dtype = parseFloatDType(o.float_dtype);
  const Model model = withWrittenFloatDTypes(loadModel(o.model), float_dtype);
  if (format == "gguf") return exportGguf(model, o, common);
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
  sub->add_option("--format", opts->format,
                  "output format: hf (directory), pack (.slmc file) or gguf (llama.cpp); default: pack when "
                  "the output ends in .slmc, gguf when it ends in .gguf, hf otherwise")
      ->check(CLI::IsMember({"hf", "pack", "gguf"}));
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
