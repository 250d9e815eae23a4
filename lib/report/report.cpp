#include "lib/report/report.h"

#include <cstdio>
#include <vector>

#include "lib/report/markdown_table.h"
#include "lib/report/report_figures.h"
#include "lib/support/atomic_file.h"
#include "lib/support/file_util.h"
#include "lib/support/version.h"

namespace slmc {

using nlohmann::json;

namespace {

std::string format(const char* spec, double value) { return formatDouble(spec, value); }
std::string cell(const std::string& text) { return escapeCell(text); }
std::string valueCell(const json& v) { return escapeCell(jsonCell(v)); }

std::string mib(int64_t bytes) { return format("%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0)); }
std::string signedMib(int64_t bytes) { return (bytes >= 0 ? "+" : "") + mib(bytes); }

// A pass's figures: the single values in one figure/value table, then every list of rows (per
// layer, per tensor) as its own table, folded when long.
// A nested object (the calibration's figures, a bit budget's) is flattened into the same
// tables under dotted names ("calibration.samples"), never shown as a JSON blob in one cell.
void collectPassFigures(const json& figures, const std::string& prefix, MarkdownTable& scalars, std::string& tables) {
  for (const auto& [key, value] : figures.items()) {
    const std::string name = prefix + key;
    if (isJsonRowArray(value))
      tables += foldedMarkdownTable(name, tableFromJsonRows(value));
    else if (value.is_object() && !value.empty())
      collectPassFigures(value, name + ".", scalars, tables);
    else
      scalars.rows.push_back({name, jsonCell(value)});
  }
}

std::string passFiguresSection(const json& figures) {
  MarkdownTable scalars{{{"figure"}, {"value", true}}, {}};
  std::string tables;
  collectPassFigures(figures, "", scalars, tables);
  return (scalars.rows.empty() ? "" : renderMarkdownTable(scalars) + "\n") + tables;
}

std::string passesSection(const json& passes) {
  std::string md =
      "## Passes\n\n| # | pass | invocation | time (s) | peak RSS (MiB) | RSS growth (MiB) | summary |\n"
      "|---:|---|---|---:|---:|---:|---|\n";
  for (size_t i = 0; i < passes.size(); ++i) {
    const json& p = passes[i];
    // The pass that ran; the invocation shows it as written (a family: quantize(method=gptq)).
    md += "| " + std::to_string(i + 1) + " | " + cell(p.value("pass", p["name"].get<std::string>())) + " | `" +
          cell(p["invocation"].get<std::string>()) + "` | " + format("%.2f", p["seconds"].get<double>()) + " | " +
          mib(p["peak_rss_bytes"].get<int64_t>()) + " | " + signedMib(p["rss_growth_bytes"].get<int64_t>()) + " | " +
          cell(p["summary"].get<std::string>()) + " |\n";
  }
  for (size_t i = 0; i < passes.size(); ++i) {
    const json& figures = passes[i]["figures"];
    if (!figures.is_object() || figures.empty()) continue;
    // Scalars in one table; per-layer / per-tensor records and loss curves flattened into their
    // own tables (lib/report/markdown_table.h), long ones folded.
    md += "\n### " + std::to_string(i + 1) + ". " + passes[i].value("pass", passes[i]["name"].get<std::string>()) +
          "\n\n" +
          passFiguresSection(figures);
  }
  return md + "\n";
}

std::string sizeSection(const json& models) {
  const json none;
  const json& a = models.contains("original") ? models["original"] : none;
  const json& b = models.contains("compressed") ? models["compressed"] : none;
  const auto integer = [](const json& m, const char* key) {
    return m.is_null() ? std::string("–") : withThousands(m[key].get<int64_t>());
  };
  const auto bits = [](const json& m, const char* key) {
    return m.is_null() ? std::string("–") : format("%.2f", m[key].get<double>());
  };
  const auto bytes = [](const json& m) {
    return m.is_null() ? std::string("–")
                       : withThousands(m["bytes"].get<int64_t>()) + " (" + mib(m["bytes"].get<int64_t>()) + " MiB)";
  };
  std::string ratio;
  if (!a.is_null() && !b.is_null() && b["bytes"].get<int64_t>() > 0)
    ratio = format("%.2f",
                   static_cast<double>(a["bytes"].get<int64_t>()) / static_cast<double>(b["bytes"].get<int64_t>())) +
            "x smaller";
  std::string md = "## Model size\n\n| | original | compressed | ratio |\n|---|---:|---:|---:|\n";
  md += "| parameters | " + integer(a, "parameters") + " | " + integer(b, "parameters") + " | |\n";
  md += "| bytes | " + bytes(a) + " | " + bytes(b) + " | " + ratio + " |\n";
  if ((!a.is_null() && a.contains("nonzero_parameters")) || (!b.is_null() && b.contains("nonzero_parameters"))) {
    const auto nonzero = [](const json& m) {
      return m.is_null() || !m.contains("nonzero_parameters") ? std::string("–")
                                                               : withThousands(m["nonzero_parameters"].get<int64_t>());
    };
    md += "| non-zero parameters | " + nonzero(a) + " | " + nonzero(b) + " | |\n";
  }
  md += "| bits per weight | " + bits(a, "bits_per_weight") + " | " + bits(b, "bits_per_weight") + " | |\n";
  md += "| quantized parameters | " + integer(a, "quantized_parameters") + " | " + integer(b, "quantized_parameters") +
        " | |\n";
  const auto quantizedBits = [&](const json& m) {  // a dash where nothing is quantized
    return m.is_null() || m["quantized_parameters"].get<int64_t>() == 0 ? std::string("–")
                                                                        : bits(m, "quantized_bits_per_weight");
  };
  md += "| bits per quantized weight | " + quantizedBits(a) + " | " + quantizedBits(b) + " | |\n";
  return md + "\n";
}

// {original, compressed} numbers as one table row; `with_change` adds the relative change.
std::string pairRow(const std::string& metric, const json& pair, bool with_change) {
  const bool has_a = pair.contains("original") && pair["original"].is_number();
  const bool has_b = pair.contains("compressed") && pair["compressed"].is_number();
  std::string change;
  if (with_change && has_a && has_b && pair["original"].get<double>() > 0)
    change = format("%+.2f%%", 100.0 * (pair["compressed"].get<double>() / pair["original"].get<double>() - 1.0));
  return "| " + cell(metric) + " | " + (has_a ? format("%.4f", pair["original"].get<double>()) : "–") + " | " +
         (has_b ? format("%.4f", pair["compressed"].get<double>()) : "–") + " | " + change + " |\n";
}

bool isPair(const json& v) {
  return v.is_object() && ((v.contains("original") && v["original"].is_number()) ||
                           (v.contains("compressed") && v["compressed"].is_number()));
}

std::string evaluationSection(const json& evaluation) {
  std::string table, others;
  if (evaluation.contains("perplexity") && isPair(evaluation["perplexity"]))
    table += pairRow("perplexity", evaluation["perplexity"], true);
  for (const auto& [key, value] : evaluation.items())
    if (key != "perplexity" && isPair(value)) table += pairRow(key, value, false);
  if (evaluation.contains("top1_agreement") && evaluation["top1_agreement"].is_number())
    table += "| top-1 agreement | | " + format("%.2f%%", 100.0 * evaluation["top1_agreement"].get<double>()) + " | |\n";
  if (evaluation.contains("mean_kl") && evaluation["mean_kl"].is_number())
    table += "| mean KL to original (nats) | | " + format("%.6f", evaluation["mean_kl"].get<double>()) + " | |\n";
  for (const auto& [key, value] : evaluation.items()) {
    const bool tabulated = isPair(value) || ((key == "top1_agreement" || key == "mean_kl") && value.is_number());
    if (!tabulated) others += "- " + key + ": " + valueCell(value) + "\n";
  }
  std::string md = "## Evaluation\n\n";
  if (!table.empty()) md += "| metric | original | compressed | change |\n|---|---:|---:|---:|\n" + table + "\n";
  if (!others.empty()) md += others + "\n";
  return md;
}

std::string calibrationSection(const json& calibration) {
  std::string md = "## Calibration\n\n";
  for (const auto& [key, value] : calibration.items()) md += "- " + key + ": " + valueCell(value) + "\n";
  return md + "\n";
}

std::string warningsSection(const json& report) {
  std::string md;
  for (const json& w : report["warnings"]) md += "- " + w.get<std::string>() + "\n";
  for (const json& p : report["passes"])
    for (const json& w : p["warnings"]) md += "- " + p["name"].get<std::string>() + ": " + w.get<std::string>() + "\n";
  return md.empty() ? md : "## Warnings\n\n" + md + "\n";
}

}  // namespace

Report::Report()
    : json_({{"schema_version", kReportSchemaVersion},
             {"slmc_version", kVersion},
             {"command", ""},
             {"source_model", ""},
             {"pipeline", ""},
             {"passes", json::array()},
             {"models", json::object()},
             {"calibration", json::object()},
             {"evaluation", json::object()},
             {"warnings", json::array()},
             {"figures", json::object()},
             {"original_figures", json::object()}}) {}

// The canonical figures (lib/report/report_figures.h) follow the detailed fields they come from.
void Report::refreshFigures() {
  json detailed = json_;
  detailed.erase("figures");
  detailed.erase("original_figures");
  json_["figures"] = figuresOf(detailed);
  json_["original_figures"] = originalFiguresOf(detailed);
}

void Report::setCommand(const std::string& command) { json_["command"] = command; }
void Report::setSourceModel(const std::string& path) { json_["source_model"] = path; }
void Report::setPipeline(const std::string& pipeline_text) { json_["pipeline"] = pipeline_text; }

void Report::setPasses(const std::vector<PassRecord>& records) {
  json passes = json::array();
  for (const PassRecord& r : records)
    passes.push_back({{"name", r.name},
                      {"pass", r.pass.empty() ? r.name : r.pass},
                      {"invocation", r.invocation},
                      {"options", r.options},
                      {"seconds", r.seconds},
                      {"peak_rss_bytes", r.peak_rss_bytes},
                      {"rss_growth_bytes", r.rss_growth_bytes},
                      {"summary", r.result.summary},
                      {"figures", r.result.figures},
                      {"warnings", r.result.warnings}});
  json_["passes"] = std::move(passes);
  refreshFigures();
}

void Report::setOriginalModel(const ModelSize& size) { json_["models"]["original"] = modelSizeJson(size); 
  refreshFigures();
}
void Report::setCompressedModel(const ModelSize& size) { json_["models"]["compressed"] = modelSizeJson(size); 
  refreshFigures();
}
void Report::setCalibration(json provenance) { json_["calibration"] = std::move(provenance); }
void Report::setEvaluation(json evaluation) { json_["evaluation"] = std::move(evaluation); 
  refreshFigures();
}
void Report::addWarning(const std::string& warning) { json_["warnings"].push_back(warning); }

std::string Report::toMarkdown() const {
  const json& j = json_;
  const std::string command = j["command"].get<std::string>();
  std::string md = "# slmc " + (command.empty() ? "" : command + " ") + "report\n\n";
  md += "- source model: `" + j["source_model"].get<std::string>() + "`\n";
  md += "- pipeline: `" + j["pipeline"].get<std::string>() + "`\n";
  md += "- slmc " + j["slmc_version"].get<std::string>() + ", report schema " +
        std::to_string(j["schema_version"].get<int>()) + "\n\n";
  if (!j["passes"].empty()) md += passesSection(j["passes"]);
  if (!j["models"].empty()) md += sizeSection(j["models"]);
  if (j["calibration"].is_object() && !j["calibration"].empty()) md += calibrationSection(j["calibration"]);
  if (j["evaluation"].is_object() && !j["evaluation"].empty()) md += evaluationSection(j["evaluation"]);
  md += warningsSection(j);
  return md;
}

std::string markdownPathFor(const std::string& json_path) {
  return endsWith(json_path, ".json") ? json_path.substr(0, json_path.size() - 5) + ".md" : json_path + ".md";
}

void Report::write(const std::string& json_path) const {
  // Markdown first: a JSON report on disk implies its summary is there too.
  writeFileAtomically(markdownPathFor(json_path), toMarkdown());
  writeFileAtomically(json_path, json_.dump(2) + "\n");
}

}  // namespace slmc
