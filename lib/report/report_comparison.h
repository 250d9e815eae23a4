// `slmc report compare`: the shared figures of several reports side by side, with absolute and
// relative deltas against the first (BASE), the figures some reports lack listed, and an
// optional gate checked on every report after BASE.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/report/gate.h"
#include "lib/report/report_file.h"

namespace slmc {

struct ComparedFigure {
  std::string name;
  std::vector<std::optional<double>> values;  // one per report, in order
};

struct ReportComparison {
  std::vector<std::string> labels;  // column headings, BASE first
  std::vector<std::string> paths;
  std::vector<std::string> models;  // reportModelName of each
  std::vector<ComparedFigure> figures;  // every figure at least one report holds, in table order
  // Figures some reports hold and others lack: (figure, labels lacking it).
  std::vector<std::pair<std::string, std::vector<std::string>>> missing;
  // When a gate was given: per report after BASE, its checks.
  std::vector<std::pair<std::string, std::vector<GateCheck>>> gate;
};

// Throws UsageError when fewer than 2 reports are given, or when they are of different models
// and `allow_different_models` is false.
ReportComparison compareReports(const std::vector<ReportFile>& reports, bool allow_different_models,
                                const std::vector<GateCondition>* gate = nullptr);

std::string comparisonMarkdown(const ReportComparison& c);
nlohmann::json comparisonJson(const ReportComparison& c);
// "" when every condition holds; otherwise one line naming each failure.
std::string gateFailureLine(const ReportComparison& c);

}  // namespace slmc
