// Reading a report JSON back (slmc report compare / html, compress gates against a baseline).
// Every report carries schema_version, the schema's major version: fields are only ever added
// within a major version, so a reader takes any report up to its own major and refuses a newer
// one with one line rather than misreading it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace slmc {

// The major version this slmc writes and the newest it reads.
inline constexpr int kReportSchemaVersion = 1;

struct ReportFile {
  std::string path;
  std::string label;  // the file name without .json: the column heading in comparisons
  nlohmann::json json;
};

// Throws UsageError (one line naming the file) when it is missing, not JSON, not a report
// object, or of a newer schema major version.
ReportFile readReportFile(const std::string& path);
// The same checks on an already parsed document (`origin` names it in errors).
void checkReportSchema(const nlohmann::json& report, const std::string& origin);

}  // namespace slmc
