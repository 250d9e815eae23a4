// slmc report compare BASE.json NEW.json [MORE.json …] [--json] [--gate "ppl_increase<=2%,bytes<=100MB"]
//                     [--allow-different-models] [-o OUT.md]
// slmc report html RUNS.json… -o report.html
// Reads reports of any command (lib/report/report_figures.h names their shared figures).
// Exit codes: 0 all good, 1 a gate condition fails (each failure named on one line),
// 2 the comparison could not be made (malformed gate, unreadable report, different models).
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "lib/report/report_comparison.h"
#include "lib/report/report_html.h"
#include "lib/report/usage_error.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

struct CompareOptions {
  std::vector<std::string> reports;
  bool json = false;
  std::string gate;
  bool allow_different_models = false;
  std::string output;  // also write the Markdown (or JSON with --json) here
};

struct HtmlOptions {
  std::vector<std::string> runs;
  std::string output;
};

std::vector<ReportFile> readAll(const std::vector<std::string>& paths) {
  std::vector<ReportFile> reports;
  for (const std::string& p : paths) reports.push_back(readReportFile(p));
  return reports;
}

void runCompare(const CompareOptions& o) {
  // The gate first: a malformed gate must not wait for the reports to be read.
  std::vector<GateCondition> gate;
  if (!o.gate.empty()) gate = parseGate(o.gate);
  const ReportComparison c = compareReports(readAll(o.reports), o.allow_different_models, o.gate.empty() ? nullptr : &gate);
  const std::string text = o.json ? comparisonJson(c).dump(2) + "\n" : comparisonMarkdown(c);
  std::fputs(text.c_str(), stdout);
  if (!o.output.empty()) writeFileAtomically(o.output, text);
  const std::string failure = gateFailureLine(c);
  if (!failure.empty()) throw Error(failure);
}

void runHtml(const HtmlOptions& o) {
  const std::vector<ReportFile> runs = readAll(o.runs);
  writeFileAtomically(o.output, reportsHtml(runs));
  std::printf("wrote      %s  (%zu run%s)\n", o.output.c_str(), runs.size(), runs.size() == 1 ? "" : "s");
}

}  // namespace

void setupReport(CLI::App& app) {
  CLI::App* report = app.add_subcommand("report", "Compare, gate and plot the JSON reports slmc commands write");
  report->require_subcommand(1);

  auto compare = std::make_shared<CompareOptions>();
  CLI::App* c = report->add_subcommand(
      "compare", "One table of the figures several reports share, with deltas against the first (BASE)");
  c->add_option("reports", compare->reports, "BASE.json NEW.json [MORE.json …]")->required()->expected(2, -1);
  c->add_flag("--json", compare->json, "print JSON instead of Markdown");
  c->add_option("--gate", compare->gate,
                "conditions every report after BASE must meet, e.g. \"ppl_increase<=2%,bytes<=100MB,kl<=0.02,"
                "tokens_per_second>=0.95x\" (x: times BASE; %: change vs BASE, or percent for ppl_increase); "
                "exit 1 naming each failure");
  c->add_flag("--allow-different-models", compare->allow_different_models,
              "compare reports whose source models differ");
  c->add_option("-o,--output", compare->output, "also write the table (or JSON) to this file");
  c->callback([compare] { runCompare(*compare); });

  auto html = std::make_shared<HtmlOptions>();
  CLI::App* h = report->add_subcommand("html", "One self-contained HTML page (SVG plots, no script) of several runs");
  h->add_option("runs", html->runs, "report JSON files")->required()->expected(1, -1);
  h->add_option("-o,--output", html->output, "HTML file to write")->required();
  h->callback([html] { runHtml(*html); });
}

}  // namespace slmc
