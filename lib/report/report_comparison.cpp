#include "lib/report/report_comparison.h"

#include <cmath>

#include "lib/report/markdown_table.h"
#include "lib/report/report_figures.h"
#include "lib/report/usage_error.h"

namespace slmc {

using nlohmann::json;

ReportComparison compareReports(const std::vector<ReportFile>& reports, bool allow_different_models,
                                const std::vector<GateCondition>* gate) {
  if (reports.size() < 2) throw UsageError("report compare needs a BASE report and at least one more to compare with it");
  ReportComparison c;
  std::vector<json> figures;
  for (const ReportFile& r : reports) {
    c.labels.push_back(r.label);
    c.paths.push_back(r.path);
    c.models.push_back(reportModelName(r.json));
    figures.push_back(figuresOf(r.json));
  }
  // Two reports of one file name (runs/a/report.json, runs/b/report.json): head columns by path.
  for (size_t i = 0; i < c.labels.size(); ++i)
    for (size_t j = i + 1; j < c.labels.size(); ++j)
      if (c.labels[i] == c.labels[j]) c.labels = c.paths;
  if (!allow_different_models)
    for (size_t i = 1; i < reports.size(); ++i)
      if (c.models[i] != c.models[0])
        throw UsageError("reports are of different models: '" + reports[0].path + "' of '" + c.models[0] + "', '" +
                         reports[i].path + "' of '" + c.models[i] +
                         "' (pass --allow-different-models to compare them anyway)");
  for (const FigureInfo& info : reportFigures()) {
    ComparedFigure row{info.name, {}};
    std::vector<std::string> lacking;
    for (size_t i = 0; i < reports.size(); ++i) {
      if (figures[i].contains(info.name))
        row.values.emplace_back(figures[i][info.name].get<double>());
      else
        row.values.emplace_back(std::nullopt), lacking.push_back(c.labels[i]);
    }
    if (lacking.size() == reports.size()) continue;
    if (!lacking.empty()) c.missing.emplace_back(info.name, lacking);
    c.figures.push_back(std::move(row));
  }
  if (gate)
    for (size_t i = 1; i < reports.size(); ++i)
      c.gate.emplace_back(c.labels[i], checkGate(*gate, figures[i], figures[0], c.labels[0]));
  return c;
}

namespace {

// A change of a percent figure is in percentage points, not percent.
std::string signedFigure(const FigureInfo& info, double delta) {
  if (info.unit == FigureUnit::Percent) return formatDouble("%+.2f pp", delta);
  return (delta >= 0 ? "+" : "") + formatFigure(info, delta);
}

std::string relativeDelta(double base, double value) {
  if (base == 0) return value == 0 ? "0.00%" : "";
  return formatDouble("%+.2f%%", 100.0 * (value - base) / std::fabs(base));
}

}  // namespace

std::string comparisonMarkdown(const ReportComparison& c) {
  MarkdownTable table;
  table.columns.push_back({"figure"});
  table.columns.push_back({c.labels[0] + " (base)", true});
  for (size_t i = 1; i < c.labels.size(); ++i) {
    table.columns.push_back({c.labels[i], true});
    table.columns.push_back({"Δ", true});
    table.columns.push_back({"Δ %", true});
  }
  for (const ComparedFigure& f : c.figures) {
    const FigureInfo& info = *findFigure(f.name);
    std::vector<std::string> row{std::string(info.label) + " (`" + f.name + "`)"};
    const auto& base = f.values[0];
    row.push_back(base ? formatFigure(info, *base) : "–");
    for (size_t i = 1; i < f.values.size(); ++i) {
      const auto& v = f.values[i];
      row.push_back(v ? formatFigure(info, *v) : "–");
      row.push_back(v && base ? signedFigure(info, *v - *base) : "");
      row.push_back(v && base ? relativeDelta(*base, *v) : "");
    }
    table.rows.push_back(std::move(row));
  }
  std::string md = "# slmc report comparison\n\n";
  for (size_t i = 0; i < c.labels.size(); ++i)
    md += "- " + std::string(i == 0 ? "base" : "new") + " `" + c.labels[i] + "`: " + c.paths[i] + " (model `" +
          c.models[i] + "`)\n";
  md += "\n" + renderMarkdownTable(table) + "\n";
  if (!c.missing.empty()) {
    md += "Missing figures (not measured by the command that wrote the report):\n\n";
    for (const auto& [figure, labels] : c.missing) {
      std::string list;
      for (const std::string& l : labels) list += (list.empty() ? "`" : ", `") + l + "`";
      md += "- `" + figure + "`: not in " + list + "\n";
    }
    md += "\n";
  }
  if (!c.gate.empty()) {
    MarkdownTable g{{{"report"}, {"condition"}, {"result"}, {"detail"}}, {}};
    for (const auto& [label, checks] : c.gate)
      for (const GateCheck& check : checks)
        g.rows.push_back({label, "`" + check.condition->text + "`", check.passed ? "pass" : "**FAIL**", check.message});
    md += "## Gate\n\n" + renderMarkdownTable(g) + "\n";
  }
  return md;
}

json comparisonJson(const ReportComparison& c) {
  json reports = json::array();
  for (size_t i = 0; i < c.labels.size(); ++i)
    reports.push_back({{"label", c.labels[i]}, {"path", c.paths[i]}, {"model", c.models[i]}});
  json figures = json::object();
  for (const ComparedFigure& f : c.figures) {
    json values = json::array(), deltas = json::array(), relative = json::array();
    const auto& base = f.values[0];
    for (size_t i = 0; i < f.values.size(); ++i) {
      const auto& v = f.values[i];
      values.push_back(v ? json(*v) : json(nullptr));
      if (i == 0) continue;
      deltas.push_back(v && base ? json(*v - *base) : json(nullptr));
      relative.push_back(v && base && *base != 0 ? json((*v - *base) / std::fabs(*base)) : json(nullptr));
    }
    figures[f.name] = {{"values", values}, {"delta", deltas}, {"relative_delta", relative}};
  }
  json missing = json::array();
  for (const auto& [figure, labels] : c.missing) missing.push_back({{"figure", figure}, {"missing_in", labels}});
  json j = {{"schema_version", kReportSchemaVersion},
            {"command", "report compare"},
            {"reports", reports},
            {"figures", figures},
            {"missing", missing}};
  if (!c.gate.empty()) {
    json gate = json::array();
    for (const auto& [label, checks] : c.gate)
      for (const GateCheck& check : checks)
        gate.push_back({{"report", label},
                        {"condition", check.condition->text},
                        {"passed", check.passed},
                        {"message", check.message}});
    j["gate"] = gate;
    j["gate_passed"] = gateFailureLine(c).empty();
  }
  return j;
}

std::string gateFailureLine(const ReportComparison& c) {
  std::string line;
  size_t failed = 0, total = 0;
  for (const auto& [label, checks] : c.gate)
    for (const GateCheck& check : checks) {
      ++total;
      if (check.passed) continue;
      ++failed;
      line += (line.empty() ? "" : "; ") + label + ": " + check.message;
    }
  if (line.empty()) return "";
  return "gate failed (" + std::to_string(failed) + " of " + std::to_string(total) + " conditions): " + line;
}

}  // namespace slmc
