// `slmc report html RUNS… -o report.html`: one self-contained page (inline CSS and hand-written
// SVG; no script, no network) a person looks at instead of reading JSON: the figures of every
// run, perplexity against bytes with the Pareto front marked, per-layer figures as bars, per-pass
// time and memory, and a loss curve where a pass recorded one.
#pragma once

#include <string>
#include <vector>

#include "lib/report/report_file.h"

namespace slmc {

std::string reportsHtml(const std::vector<ReportFile>& runs);

// Indices of the points no other point beats on both x and y (lower is better on both),
// ordered by x: the Pareto front of perplexity against bytes.
std::vector<size_t> paretoFront(const std::vector<std::pair<double, double>>& points);

}  // namespace slmc
