// The compression report every run leaves behind: JSON with a stable, versioned schema for
// machines, and a Markdown summary beside it for people. No timestamps or host names: the same
// run writes the same report apart from its measured times and memory.
//
// JSON (schema_version 1):
//   schema_version, slmc_version, command, source_model, pipeline,
//   passes:  [{name, invocation, options, seconds, peak_rss_bytes, rss_growth_bytes,
//              summary, figures, warnings}],
//   models:  {original: ModelSize, compressed: ModelSize}   (each present once set)
//   calibration: provenance of the calibration samples ({} when none were loaded)
//   evaluation: free-form, set by the caller; the Markdown tabulates, when present,
//     perplexity: {original, compressed} (with the % change), any other {original, compressed}
//     pair of numbers (mean_nll…), top1_agreement (fraction), mean_kl (nats); every other
//     key is listed as is.
//   warnings: [run-wide warnings]
//   figures: the canonical figures of the compressed model (lib/report/report_figures.h),
//   original_figures: the same of the original; docs/report-schema.md describes every field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model_size.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/report/report_file.h"  // kReportSchemaVersion

namespace slmc {

class Report {
 public:
  Report();

  void setCommand(const std::string& command);  // "compress"
  void setSourceModel(const std::string& path);
  void setPipeline(const std::string& pipeline_text);
  void setPasses(const std::vector<PassRecord>& records);
  void setOriginalModel(const ModelSize& size);
  void setCompressedModel(const ModelSize& size);
  void setCalibration(nlohmann::json provenance);
  void setEvaluation(nlohmann::json evaluation);
  void addWarning(const std::string& warning);

  const nlohmann::json& toJson() const { return json_; }
  std::string toMarkdown() const;
  // Writes the JSON to `json_path` and the Markdown beside it (".json" → ".md"; another
  // extension gets ".md" appended), each atomically.
  void write(const std::string& json_path) const;

 private:
  void refreshFigures();
  nlohmann::json json_;
};

// Where write() puts the Markdown for a JSON path.
std::string markdownPathFor(const std::string& json_path);

}  // namespace slmc
