#include "passes/export/export_artifact.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "datasets/sha256.h"
#include "datasets/tokenizer.h"
#include "lib/format/checkpoint.h"
#include "lib/format/compressed_tensors.h"
#include "lib/format/gptq_checkpoint.h"
#include "lib/format/gguf/gguf_export.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/format/quantized_checkpoint.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/output_path.h"
#include "lib/support/temp_paths.h"
#include "lib/support/version.h"

namespace slmc {

namespace fs = std::filesystem;
using nlohmann::json;

std::string resolveExportFormat(const std::string& format, const std::string& output) {
  if (!format.empty()) return format;
  if (endsWith(output, ".slmc")) return "pack";
  if (endsWith(output, ".gguf")) return "gguf";
  return "hf";
}

void checkExportSettings(const ExportSettings& s, const std::string& input, bool force) {
  require(s.format != "hf" || s.tokenizer.empty(),
          "--tokenizer applies to --format pack and gguf only (a Hugging Face export copies the source's tokenizer files)");
  require(s.format == "gguf" || !s.exact, "--exact and --report apply to --format gguf only");
  require(s.format == "hf" || s.quant_format == HfQuantFormat::Slmc,
          "--quant-format applies to --format hf only (a pack and a GGUF store quantized weights in their own types)");
  for (const char* ext : {".slmc", ".gguf"})
    require(s.format != "hf" || !endsWith(s.output, ext),
            "--format hf writes a directory, but -o '" + s.output + "' is named like a " +
                (ext == std::string(".slmc") ? "pack" : "GGUF") + " (drop --format hf to write one, or name the directory without " +
                ext + ")");
  // The input's whole model: -o DIR with the input given as DIR/config.json replaces it too.
  const std::string model = modelLocation(input);
  if (s.format == "hf") {
    checkOutputDirectory(s.output, model, force, "-o");
    return;
  }
  checkOutputFile(s.output, model, force, "-o");
  std::error_code ec;
  require(s.format != "gguf" || force || !fs::exists(s.output, ec),
          "output '" + s.output + "' exists (pass --force to replace it, or choose another -o path)");
}

namespace {

// The digest that identifies a checkpoint: a single file's SHA-256, or for a directory the
// SHA-256 of its `sha256sum`-style manifest ("<hex>  <name>\n" per file, in checkpointFiles order).
std::string checkpointSha256(const std::string& source) {
  const std::vector<std::string> files = checkpointFiles(source);
  if (files.empty()) return "";
  if (files.size() == 1) return sha256File(files[0]);
  std::string manifest;
  for (const std::string& f : files) manifest += sha256File(f) + "  " + fs::path(f).filename().string() + "\n";
  return sha256Hex(manifest);
}

// The pipeline that produced the source's weights: a pack's recorded recipe, or the "pipeline"
// of the slmc_report.json that `slmc quantize` / `slmc compress` leave in their output directory.
std::string sourceRecipe(const std::string& source) {
  if (looksLikePack(source)) return PackFile::open(source).provenance().recipe;
  const std::string report = source + "/slmc_report.json";
  std::error_code ec;
  if (!fs::is_regular_file(report, ec)) return "";
  try {
    return json::parse(readTextFile(report)).value("pipeline", std::string());
  } catch (const json::exception&) {
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
    if (!dir.empty()) fs::remove_all(dir, ec);
  };
  try {
    if (!override_path.empty()) {
      tokenizer = loadTokenizer(override_path);
    } else {
      std::string pattern = (fs::temp_directory_path() / "slmc-export-tokenizer-XXXXXX").string();
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

ExportResult exportGguf(const Model& model, const ExportSettings& s) {
  std::string tokenizer_origin;
  const std::optional<gguf::GgufTokenizerMetadata> tokenizer = gguf::ggufTokenizerFor(model, s.tokenizer, tokenizer_origin);
  gguf::GgufExportOptions options;
  options.exact = s.exact;
  gguf::GgufExport gguf = gguf::buildGgufExport(model, tokenizer ? &*tokenizer : nullptr, options);
  if (!tokenizer)
    gguf.warnings.push_back("no tokenizer found beside '" + model.source +
                            "': the GGUF has no tokenizer.ggml.* keys, so llama.cpp cannot run it (pass --tokenizer)");

  json tensors = json::array();
  size_t exact = 0;
  double max_error = 0;
  std::map<std::string, size_t> types;
  for (const gguf::GgufTensorRecord& t : gguf.tensors) {
    json row = {{"name", t.name}, {"gguf_name", t.gguf_name}, {"source", t.source},
                {"ggml_type", t.ggml_type}, {"exact", t.exact}};
    if (!t.reason.empty()) row["reason"] = t.reason;
    if (!t.exact) row["max_abs_error"] = t.max_abs_error, row["rms_error"] = t.rms_error;
    tensors.push_back(row);
    exact += t.exact;
    max_error = std::max(max_error, t.max_abs_error);
    ++types[t.ggml_type];
  }
  const uint64_t bytes = gguf.writer.write(s.output);
  std::string mix;  // "150 Q4_0, 62 F32"
  for (const auto& [type, n] : types) mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + type;
  ExportResult result;
  result.warnings = gguf.warnings;
  result.figures = {{"format", "gguf"},
                    {"output", s.output},
                    {"bytes", bytes},
                    {"tokenizer", tokenizer ? tokenizer_origin : ""},
                    {"exact", exact == gguf.tensors.size()},
                    {"tensor_types", mix},
                    {"tensors_exact", exact},
                    {"tensors_reencoded", gguf.tensors.size() - exact},
                    {"max_abs_error", max_error},
                    {"tensors", tensors}};
  result.summary = "wrote " + s.output + " (GGUF v3, llama: " + std::to_string(gguf.tensors.size()) + " tensors: " + mix +
                   "; " +
                   (exact == gguf.tensors.size() ? std::string("every tensor exact")
                                                 : std::to_string(gguf.tensors.size() - exact) + " re-encoded") +
                   "; " + std::to_string(bytes) + " bytes; tokenizer: " + (tokenizer ? tokenizer_origin : "none") + ")";
  return result;
}

ExportResult exportPack(const Model& model, const ExportSettings& s) {
  PackProvenance provenance;
  provenance.source = model.source;
  provenance.source_sha256 = checkpointSha256(model.source);
  provenance.slmc_version = kVersion;
  // The whole history of the weights: the source's own recipe, then the pipeline run on it.
  const std::string before = sourceRecipe(model.source);
  provenance.recipe = before.empty() ? s.recipe : s.recipe.empty() ? before : before + "," + s.recipe;
  const std::vector<EmbeddedFile> tokenizer = tokenizerFilesFor(model, s.tokenizer);
  checkPackTokenizer(tokenizer, model, s.tokenizer);
  writePack(model, s.output, provenance, tokenizer);
  const uint64_t bytes = fs::file_size(s.output);
  std::string files;
  for (const EmbeddedFile& f : tokenizer) files += (files.empty() ? "" : ", ") + f.name;
  ExportResult result;
  result.figures = {{"format", "pack"},
                    {"output", s.output},
                    {"bytes", bytes},
                    {"tensors", model.tensors.size()},
                    {"quantized_tensors", model.quantized.size()},
                    {"tokenizer", files},
                    {"recipe", provenance.recipe}};
  result.summary = "wrote " + s.output + " (slmc pack v" + std::to_string(pack::kFormatVersion) + ": " +
                   std::to_string(model.tensors.size()) + " tensors, " + std::to_string(model.quantized.size()) +
                   " quantized, " + std::to_string(bytes) + " bytes; tokenizer: " + (files.empty() ? "none" : files) + ")";
  return result;
}

}  // namespace

ExportResult exportModel(const Model& model, const ExportSettings& s) {
  if (s.format == "gguf") return exportGguf(model, s);
  if (s.format == "pack") return exportPack(model, s);
  require(s.format == "hf", "export format '" + s.format + "' is not one of hf, pack, gguf");
  saveHfDirectory(model, s.output, s.quant_format);
  const bool quantized = isQuantizedModel(model);
  const std::string layout =
      !quantized ? std::string()
      : s.quant_format == HfQuantFormat::CompressedTensors
          ? "; compressed-tensors pack-quantized: " + compressedTensorsExportability(model).detail
      : s.quant_format == HfQuantFormat::Gptq ? "; GPTQ: " + gptqExportability(model).detail
                                              : std::string();
  ExportResult result;
  result.figures = {{"format", "hf"},
                    {"output", s.output},
                    {"quant_format", hfQuantFormatName(s.quant_format)}};
  result.summary = "wrote " + s.output + " (Hugging Face: config.json + model.safetensors" + layout + ")";
  return result;
}

}  // namespace slmc
