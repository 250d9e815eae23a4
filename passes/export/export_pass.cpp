#include "passes/export/export_pass.h"

#include <iterator>
#include <optional>

#include "lib/format/float_dtype.h"
#include "lib/support/error.h"

namespace slmc {

ExportPass::ExportPass() : Pass("export", "write the model: Hugging Face directory, slmc pack or GGUF (ends a pipeline)") {
  format.choices({"auto", "hf", "pack", "gguf"});
  float_dtype.choices({"auto", "f32", "f16", "bf16"});
  quant_format.choices(std::vector<std::string>(std::begin(kHfQuantFormats), std::end(kHfQuantFormats)));
}

PassTraits ExportPass::traits() const {
  PassTraits t;
  t.terminal = true;
  return t;
}

ExportSettings ExportPass::settingsFor(const std::string& output) const {
  ExportSettings s;
  s.format = resolveExportFormat(format == "auto" ? std::string() : *format, output);
  s.output = output;
  s.quant_format = parseHfQuantFormat(*quant_format, "quant_format");
  s.tokenizer = tokenizer;
  s.exact = exact;
  return s;
}

PassResult ExportPass::run(Model& model, PassContext& context) {
  require(!context.output.empty(), "export has nowhere to write (give the command an output path with -o)");
  const std::string dtype_text = float_dtype == "auto" ? context.float_dtype : *float_dtype;
  std::optional<DType> dtype;
  if (!dtype_text.empty()) dtype = parseFloatDType(dtype_text, "float_dtype");
  // The model leaves the pass as it was written, so what the run measures is the artifact.
  model = withWrittenFloatDTypes(model, dtype);
  ExportSettings settings = settingsFor(context.output);
  settings.recipe = context.pipeline;
  ExportResult written = exportModel(model, settings);
  PassResult result;
  result.summary = std::move(written.summary);
  result.figures = std::move(written.figures);
  result.warnings = std::move(written.warnings);
  return result;
}

}  // namespace slmc
