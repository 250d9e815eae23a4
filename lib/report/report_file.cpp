#include "lib/report/report_file.h"

#include <filesystem>

#include "lib/report/usage_error.h"
#include "lib/support/file_util.h"

namespace slmc {

using nlohmann::json;

void checkReportSchema(const json& report, const std::string& origin) {
  if (!report.is_object())
    throw UsageError("report '" + origin + "' is not a JSON object (give a report slmc wrote with --report or --json)");
  if (!report.contains("schema_version") || !report["schema_version"].is_number_integer())
    throw UsageError("report '" + origin +
                     "' has no integer schema_version: it is not an slmc report (give one written with --report or --json)");
  const int64_t version = report["schema_version"].get<int64_t>();
  if (version > kReportSchemaVersion)
    throw UsageError("report '" + origin + "' has schema_version " + std::to_string(version) +
                     ", newer than this slmc reads (" + std::to_string(kReportSchemaVersion) +
                     "): use a newer slmc to read it");
  if (version < 1) throw UsageError("report '" + origin + "' has schema_version " + std::to_string(version) + " (slmc reports start at 1)");
}

ReportFile readReportFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw UsageError("report '" + path + "' does not exist (check the path)");
  ReportFile r;
  r.path = path;
  r.label = std::filesystem::path(path).filename().string();
  if (endsWith(r.label, ".json")) r.label.resize(r.label.size() - 5);
  const std::string text = readTextFile(path);
  try {
    r.json = json::parse(text);
  } catch (const json::parse_error& e) {
    throw UsageError("report '" + path + "' is not valid JSON (byte " + std::to_string(e.byte) +
                     "): give the .json report, not the .md, and check the file is complete");
  } catch (const json::out_of_range& e) {  // a number beyond double, like 1e705
    throw UsageError("report '" + path + "' is not valid JSON (" + e.what() + "): check the file is complete");
  }
  checkReportSchema(r.json, path);
  return r;
}

}  // namespace slmc
