// Gates a CI job can fail on: conditions over report figures (lib/report/report_figures.h).
//
//   gate      := condition (',' condition)*
//   condition := FIGURE op NUMBER [unit]        op := <= | >= | < | >
//   unit      := x        NUMBER times the BASE value          tokens_per_second>=0.95x
//              | %        for a percent figure (ppl_increase): the figure itself, in percent
//                         otherwise: a change relative to BASE   bytes<=+5%, tokens_per_second>=-10%
//              | B KB MB GB KiB MiB GiB   (bytes figures only)  bytes<=100MB
//              | (none)   the figure's own value                kl<=0.02, top1>=0.5
// BASE is the baseline report of `slmc report compare`, or the original model in a compress
// report's own gate.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slmc {

enum class GateOp { LessEqual, GreaterEqual, Less, Greater };
enum class GateBound { Absolute, TimesBase, PercentOfBase };

struct GateCondition {
  std::string text;  // as written, for messages
  std::string figure;
  GateOp op = GateOp::LessEqual;
  double number = 0;  // after unit scaling (bytes) for Absolute
  GateBound bound = GateBound::Absolute;
};

// Throws UsageError naming the condition and the column, with "did you mean" for figure names.
std::vector<GateCondition> parseGate(const std::string& text);

struct GateCheck {
  const GateCondition* condition;
  bool passed = false;
  std::string message;  // "bytes = 258,528, limit <= 200,000 (fails)" or why it could not be checked
};

// Each condition checked on `figures` (the NEW report's), relative bounds against `base_figures`;
// a figure missing from either where it is needed fails, saying which.
std::vector<GateCheck> checkGate(const std::vector<GateCondition>& gate, const nlohmann::json& figures,
                                 const nlohmann::json& base_figures, const std::string& base_name);

bool allPassed(const std::vector<GateCheck>& checks);

}  // namespace slmc
