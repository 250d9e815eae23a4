#include "lib/report/markdown_table.h"

#include <algorithm>
#include <cstdio>

namespace slmc {

using nlohmann::json;

std::string formatDouble(const char* spec, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, spec, value);
  return buffer;
}

std::string withThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (value < 0 ? "-" : "") + out;
}

std::string escapeCell(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '|': out += "\\|"; break;
      case '\n': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

std::string jsonCell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return formatDouble("%.6g", v.get<double>());
  if (v.is_null()) return "–";
  return v.dump();
}

std::string renderMarkdownTable(const MarkdownTable& table) {
  std::string md = "|", rule = "|";
  for (const TableColumn& c : table.columns) {
    md += " " + escapeCell(c.heading) + " |";
    rule += c.right_aligned ? "---:|" : "---|";
  }
  md += "\n" + rule + "\n";
  for (const auto& row : table.rows) {
    md += "|";
    for (size_t i = 0; i < table.columns.size(); ++i) md += " " + (i < row.size() ? escapeCell(row[i]) : "") + " |";
    md += "\n";
  }
  return md;
}

std::string foldedMarkdownTable(const std::string& title, const MarkdownTable& table, size_t fold_above) {
  const std::string body = renderMarkdownTable(table);
  if (table.rows.size() <= fold_above) return "**" + title + "**\n\n" + body + "\n";
  return "<details><summary>" + title + " (" + std::to_string(table.rows.size()) + " rows)</summary>\n\n" + body +
         "\n</details>\n\n";
}

bool isJsonRowArray(const json& value) {
  return value.is_array() && !value.empty() &&
         std::all_of(value.begin(), value.end(), [](const json& e) { return e.is_object(); });
}

namespace {

// The first field of `element` that is itself a row array (a layer's "tensors"), or nullptr.
const json* innerRows(const json& element) {
  for (const auto& [key, value] : element.items())
    if (isJsonRowArray(value)) return &value;
  return nullptr;
}

struct ColumnSet {
  std::vector<std::string> names;
  std::vector<bool> numeric;
  size_t indexOf(const std::string& key, bool is_number) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == key) {
        numeric[i] = numeric[i] && is_number;
        return i;
      }
    names.push_back(key);
    numeric.push_back(is_number);
    return names.size() - 1;
  }
};

// Scalars of `object` into `row` (columns added as first seen); nested objects as one JSON cell.
void addFields(const json& object, ColumnSet& columns, std::vector<std::pair<size_t, std::string>>& row) {
  for (const auto& [key, value] : object.items()) {
    if (isJsonRowArray(value)) continue;
    const bool number = value.is_number() || value.is_null();
    row.emplace_back(columns.indexOf(key, number), jsonCell(value));
  }
}

}  // namespace

MarkdownTable tableFromJsonRows(const json& rows) {
  ColumnSet columns;
  std::vector<std::vector<std::pair<size_t, std::string>>> cells;
  for (const json& element : rows) {
    if (!element.is_object()) continue;
    std::vector<std::pair<size_t, std::string>> outer;
    addFields(element, columns, outer);
    const json* inner = innerRows(element);
    if (!inner) {
      cells.push_back(outer);
      continue;
    }
    for (const json& child : *inner) {
      auto row = outer;
      addFields(child, columns, row);
      cells.push_back(std::move(row));
    }
  }
  // What a row is about reads first: layer, then tensor (JSON objects list their keys sorted).
  std::vector<size_t> order;
  for (const char* key : {"layer", "tensor", "name"})
    for (size_t i = 0; i < columns.names.size(); ++i)
      if (columns.names[i] == key) order.push_back(i);
  for (size_t i = 0; i < columns.names.size(); ++i)
    if (std::find(order.begin(), order.end(), i) == order.end()) order.push_back(i);
  MarkdownTable table;
  for (size_t i : order) table.columns.push_back({columns.names[i], columns.numeric[i]});
  for (const auto& sparse : cells) {
    std::vector<std::string> by_index(columns.names.size()), row;
    for (const auto& [index, text] : sparse) by_index[index] = text;
    for (size_t i : order) row.push_back(by_index[i]);
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace slmc
