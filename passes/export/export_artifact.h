// Writing a model as an artifact other tools or slmc's runtime load: a Hugging Face directory,
// an slmc pack (.slmc) or a llama.cpp GGUF. Shared by the `export` pass (export_pass.h), which
// ends pipelines and recipes, and by `slmc export`, which runs that pass on a loaded model.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/format/hf_checkpoint.h"
#include "lib/model/model.h"

namespace slmc {

inline constexpr const char* kExportFormats[] = {"hf", "pack", "gguf"};

// `format` when given ("hf", "pack", "gguf"), else the one `output` is named for: pack for
// *.slmc, gguf for *.gguf, hf (a directory) otherwise.
std::string resolveExportFormat(const std::string& format, const std::string& output);

struct ExportSettings {
  std::string format;     // resolved: hf, pack or gguf
  std::string output;     // directory (hf) or file (pack, gguf)
  HfQuantFormat quant_format = HfQuantFormat::Slmc;  // hf: how quantized weights are stored
  std::string tokenizer;  // pack, gguf: tokenizer to carry ("": the source model's)
  bool exact = false;     // gguf: refuse re-encoding a tensor no ggml type holds exactly
  std::string recipe;     // the pipeline that made the weights, for a pack's provenance ("": none)
};

// Checks before any work that `s` can be written: options that do not apply to its format, an
// output named for another format, an existing output without `force`, the input itself.
// Throws Error naming the option and the fix.
void checkExportSettings(const ExportSettings& s, const std::string& input, bool force);

struct ExportResult {
  std::string summary;  // "wrote m.slmc (slmc pack v3: 272 tensors, ...)"
  // format, output, bytes; pack: tensor counts and recipe; gguf: the type mix and per tensor its
  // ggml type, whether it is exact and the error a re-encoding added.
  nlohmann::json figures = nlohmann::json::object();
  std::vector<std::string> warnings;
};

// Writes `model` (float tensors at the dtypes they hold: see lib/format/float_dtype.h) as `s` says,
// atomically. The caller has checked `s` with checkExportSettings.
ExportResult exportModel(const Model& model, const ExportSettings& s);

}  // namespace slmc
