#include "lib/report/gate.h"

#include <cctype>
#include <cstdlib>
#include <map>

#include "lib/report/report_figures.h"
#include "lib/report/usage_error.h"
#include "lib/support/closest_match.h"

namespace slmc {

using nlohmann::json;

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

const std::map<std::string, double>& byteUnits() {
  static const std::map<std::string, double> units = {{"B", 1.0},          {"KB", 1e3},          {"MB", 1e6},
                                                      {"GB", 1e9},         {"KiB", 1024.0},      {"MiB", 1048576.0},
                                                      {"GiB", 1073741824.0}};
  return units;
}

const char* opText(GateOp op) {
  switch (op) {
    case GateOp::LessEqual: return "<=";
    case GateOp::GreaterEqual: return ">=";
    case GateOp::Less: return "<";
    case GateOp::Greater: return ">";
  }
  return "?";
}

std::string byteFigureList() {
  std::string list;
  for (const FigureInfo& f : reportFigures())
    if (f.unit == FigureUnit::Bytes) list += std::string(list.empty() ? "" : ", ") + f.name;
  return list;
}

GateCondition parseCondition(const std::string& text) {
  const auto fail = [&](const std::string& problem) -> UsageError {
    return UsageError("gate condition '" + text + "': " + problem);
  };
  GateCondition c;
  c.text = text;
  size_t i = 0;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
  c.figure = text.substr(0, i);
  if (c.figure.empty()) throw fail("expected a figure name first (e.g. bytes<=100MB)");
  const FigureInfo* figure = findFigure(c.figure);
  if (!figure) {
    std::string message = "unknown figure '" + c.figure + "'";
    std::string guess = closestMatch(c.figure, figureNames());
    for (const std::string& n : figureNames())  // an abbreviation: ppl_inc → ppl_increase
      if (guess.empty() && n.rfind(c.figure, 0) == 0) guess = n;
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    std::string all;
    for (const std::string& n : figureNames()) all += (all.empty() ? "" : ", ") + n;
    throw fail(message + " (figures: " + all + ")");
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const std::string rest = text.substr(i);
  size_t op_len = 0;
  if (rest.rfind("<=", 0) == 0) c.op = GateOp::LessEqual, op_len = 2;
  else if (rest.rfind(">=", 0) == 0) c.op = GateOp::GreaterEqual, op_len = 2;
  else if (rest.rfind("<", 0) == 0) c.op = GateOp::Less, op_len = 1;
  else if (rest.rfind(">", 0) == 0) c.op = GateOp::Greater, op_len = 1;
  else throw fail("expected <=, >=, < or > after '" + c.figure + "'");
  const std::string value = trim(rest.substr(op_len));
  char* end = nullptr;
  c.number = std::strtod(value.c_str(), &end);
  if (end == value.c_str()) throw fail("expected a number after '" + std::string(opText(c.op)) + "'");
  const std::string unit = trim(std::string(end));
  if (unit.empty()) return c;
  if (unit == "x") {
    c.bound = GateBound::TimesBase;
  } else if (unit == "%") {
    c.bound = figure->unit == FigureUnit::Percent ? GateBound::Absolute : GateBound::PercentOfBase;
  } else if (byteUnits().count(unit)) {
    if (figure->unit != FigureUnit::Bytes)
      throw fail("unit '" + unit + "' applies to byte figures only (" + byteFigureList() + ")");
    c.number *= byteUnits().at(unit);
  } else {
    throw fail("unknown unit '" + unit + "' (use x, %, B, KB, MB, GB, KiB, MiB or GiB)");
  }
  return c;
}

bool holds(GateOp op, double value, double limit) {
  switch (op) {
    case GateOp::LessEqual: return value <= limit;
    case GateOp::GreaterEqual: return value >= limit;
    case GateOp::Less: return value < limit;
    case GateOp::Greater: return value > limit;
  }
  return false;
}

}  // namespace

std::vector<GateCondition> parseGate(const std::string& text) {
  std::vector<GateCondition> gate;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty())
      throw UsageError("gate '" + text + "': empty condition (write conditions like 'bytes<=100MB,kl<=0.02')");
    gate.push_back(parseCondition(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return gate;
}

std::vector<GateCheck> checkGate(const std::vector<GateCondition>& gate, const json& figures, const json& base_figures,
                                 const std::string& base_name) {
  std::vector<GateCheck> checks;
  for (const GateCondition& c : gate) {
    GateCheck check{&c, false, ""};
    const FigureInfo& info = *findFigure(c.figure);
    if (!figures.contains(c.figure)) {
      check.message = c.text + ": " + c.figure + " is not in the report (its command does not measure it)";
      checks.push_back(check);
      continue;
    }
    const double value = figures[c.figure].get<double>();
    double limit = c.number;
    std::string how;
    if (c.bound != GateBound::Absolute) {
      if (!base_figures.contains(c.figure)) {
        check.message = c.text + ": " + base_name + " has no " + c.figure + " to compare with";
        checks.push_back(check);
        continue;
      }
      const double base = base_figures[c.figure].get<double>();
      limit = c.bound == GateBound::TimesBase ? c.number * base : base * (1.0 + c.number / 100.0);
      how = " (" + c.text.substr(c.text.find_first_of("<>")) + " of " + base_name + "'s " + formatFigure(info, base) +
            ")";
    }
    check.passed = holds(c.op, value, limit);
    check.message = c.figure + " = " + formatFigure(info, value) + ", limit " + opText(c.op) + " " +
                    formatFigure(info, limit) + how + (check.passed ? " (holds)" : " (fails)");
    checks.push_back(check);
  }
  return checks;
}

bool allPassed(const std::vector<GateCheck>& checks) {
  for (const GateCheck& c : checks)
    if (!c.passed) return false;
  return true;
}

}  // namespace slmc
