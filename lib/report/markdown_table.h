// Markdown tables for reports: one function renders any table from its columns and rows, so a
// pass that adds a per-tensor figure gets a new column without touching the rendering, and long
// tables fold into <details> so the summary above them stays readable.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slmc {

struct TableColumn {
  std::string heading;
  bool right_aligned = false;  // numbers
};

struct MarkdownTable {
  std::vector<TableColumn> columns;
  std::vector<std::vector<std::string>> rows;  // one cell per column, formatted, not yet escaped
};

// "| a | b |\n|---|---:|\n| 1 | 2 |\n"; cells are escaped (| and newlines).
std::string renderMarkdownTable(const MarkdownTable& table);
// The table under a "**title**" line, folded in <details> when it has more than `fold_above`
// rows (GitHub and most viewers render Markdown tables inside <details> given blank lines).
std::string foldedMarkdownTable(const std::string& title, const MarkdownTable& table, size_t fold_above = 12);

// A JSON array of objects as a table: one row per element, the columns the union of the
// elements' scalar keys (layer, tensor and name first, then in first-seen order). An element holding an array of objects (a layer
// and its "tensors") gives one row per inner object, prefixed with the element's scalars, so
// per-layer and per-tensor figures come out as one flat table. Numbers right-aligned.
MarkdownTable tableFromJsonRows(const nlohmann::json& rows);
// True for a non-empty array whose elements are all objects.
bool isJsonRowArray(const nlohmann::json& value);

// Cell text.
std::string escapeCell(const std::string& text);
std::string jsonCell(const nlohmann::json& value);  // numbers to 6 significant digits, strings bare, unescaped
std::string withThousands(int64_t value);           // 1234567 → "1,234,567"
std::string formatDouble(const char* spec, double value);

}  // namespace slmc
