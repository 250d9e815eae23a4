// The figures every report shares, under one set of names, whichever command wrote it.
// One table row per figure (name, unit, which direction is better); compare, gate, the HTML
// page and docs/report-schema.md read this table. Each command's JSON keeps its own detailed
// fields; `figures` (top level of every report) holds these canonical numbers, and figuresOf()
// derives them from the detailed fields, so reports written before `figures` existed compare too.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slmc {

enum class FigureUnit { Plain, Percent, Fraction, Nats, Bytes, Seconds, TokensPerSecond };

struct FigureInfo {
  const char* name;         // the key in `figures` and in gate conditions
  const char* label;        // table row heading
  FigureUnit unit;
  bool higher_is_better;
  const char* description;  // one line for the docs and `slmc report compare --help`
};

// In the order tables list them.
const std::vector<FigureInfo>& reportFigures();
// nullptr when `name` is not a figure.
const FigureInfo* findFigure(const std::string& name);
std::vector<std::string> figureNames();

// The canonical figures of a report of any command (compress, quantize, prune, eval, validate,
// bench): an object name → number holding those the report measured.
nlohmann::json figuresOf(const nlohmann::json& report);
// The same figures of what the report started from (the original model of a compress report:
// its perplexity, bytes, bits per weight); {} for commands that measure one model.
nlohmann::json originalFiguresOf(const nlohmann::json& report);

// Which model the report is about, for refusing to compare reports of different models: the
// file name of the source model (compress reports) or of the model measured (eval, validate,
// bench), so that the same model under different directories matches.
std::string reportModelName(const nlohmann::json& report);

// A figure's value as a table cell: "1,040,128 (0.99 MiB)", "+3.21%", "0.2047".
std::string formatFigure(const FigureInfo& figure, double value);

}  // namespace slmc
