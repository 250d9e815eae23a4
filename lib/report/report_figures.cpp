#include "lib/report/report_figures.h"

#include <algorithm>
#include <filesystem>

#include "lib/report/markdown_table.h"

namespace slmc {

using nlohmann::json;

const std::vector<FigureInfo>& reportFigures() {
  static const std::vector<FigureInfo> table = {
      {"perplexity", "perplexity", FigureUnit::Plain, false,
       "perplexity of the compressed (or measured) model on the evaluation tokens"},
      {"perplexity_original", "perplexity of the original", FigureUnit::Plain, false,
       "perplexity of the original model (validate: of the reference forward) on the same tokens"},
      {"ppl_increase", "perplexity increase over the original", FigureUnit::Percent, false,
       "100 x (perplexity / perplexity_original - 1), in percent"},
      {"kl", "mean KL to the original (nats)", FigureUnit::Nats, false,
       "mean KL(original || compressed) of the next-token distributions"},
      {"top1", "top-1 agreement", FigureUnit::Fraction, true,
       "fraction of positions where the compressed model's top token is the original's"},
      {"max_logit_diff", "max |logit difference|", FigureUnit::Plain, false,
       "largest absolute logit difference, runtime vs reference (validate)"},
      {"bytes", "bytes", FigureUnit::Bytes, false, "bytes of the model's weights as stored"},
      {"bits_per_weight", "bits per weight", FigureUnit::Plain, false, "8 x bytes / parameters"},
      {"size_ratio", "size ratio (original / compressed)", FigureUnit::Plain, true,
       "bytes of the original over bytes of the compressed model"},
      {"tokens_per_second", "tokens/s", FigureUnit::TokensPerSecond, true,
       "eval: tokens forwarded per second; bench: generated tokens per second"},
      {"prompt_tokens_per_second", "prompt tokens/s", FigureUnit::TokensPerSecond, true,
       "bench: prompt tokens prefilled per second"},
      {"weight_bytes_per_token", "weight bytes read per token", FigureUnit::Bytes, false,
       "bench: weight bytes the runtime reads per generated token"},
      {"seconds", "seconds", FigureUnit::Seconds, false,
       "compress: all passes; eval: scoring; validate: the runtime's forwards"},
      {"peak_memory", "peak memory (bytes)", FigureUnit::Bytes, false, "largest peak resident set size of any pass"},
  };
  return table;
}

const FigureInfo* findFigure(const std::string& name) {
  for (const FigureInfo& f : reportFigures())
    if (name == f.name) return &f;
  return nullptr;
}

std::vector<std::string> figureNames() {
  std::vector<std::string> names;
  for (const FigureInfo& f : reportFigures()) names.emplace_back(f.name);
  return names;
}

namespace {

// report[a][b]… when every step exists and the end is a number.
const json* numberAt(const json& report, std::initializer_list<const char*> path) {
  const json* node = &report;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
  }
  return node->is_number() ? node : nullptr;
}

void copyNumber(json& out, const char* figure, const json& report, std::initializer_list<const char*> path) {
  if (const json* v = numberAt(report, path)) out[figure] = *v;
}

bool isCompressReport(const json& r) { return r.contains("models") && r.contains("passes"); }

void compressFigures(const json& r, json& f) {
  copyNumber(f, "perplexity", r, {"evaluation", "perplexity", "compressed"});
  copyNumber(f, "perplexity_original", r, {"evaluation", "perplexity", "original"});
  copyNumber(f, "ppl_increase", r, {"evaluation", "perplexity_increase_percent"});
  copyNumber(f, "kl", r, {"evaluation", "mean_kl"});
  copyNumber(f, "top1", r, {"evaluation", "top1_agreement"});
  copyNumber(f, "bytes", r, {"models", "compressed", "bytes"});
  copyNumber(f, "bits_per_weight", r, {"models", "compressed", "bits_per_weight"});
  const json* before = numberAt(r, {"models", "original", "bytes"});
  const json* after = numberAt(r, {"models", "compressed", "bytes"});
  if (before && after && after->get<double>() > 0) f["size_ratio"] = before->get<double>() / after->get<double>();
  if (r["passes"].is_array() && !r["passes"].empty()) {
    double seconds = 0;
    int64_t peak = 0;
    for (const json& p : r["passes"]) {
      if (const json* s = numberAt(p, {"seconds"})) seconds += s->get<double>();
      if (const json* m = numberAt(p, {"peak_rss_bytes"})) peak = std::max(peak, m->get<int64_t>());
    }
    f["seconds"] = seconds;
    f["peak_memory"] = peak;
  }
}

void validateFigures(const json& r, json& f) {
  copyNumber(f, "perplexity", r, {"runtime", "perplexity"});
  copyNumber(f, "perplexity_original", r, {"reference", "perplexity"});
  const json* a = numberAt(r, {"runtime", "perplexity"});
  const json* b = numberAt(r, {"reference", "perplexity"});
  if (a && b && b->get<double>() > 0) f["ppl_increase"] = 100.0 * (a->get<double>() / b->get<double>() - 1.0);
  copyNumber(f, "kl", r, {"mean_kl"});
  copyNumber(f, "top1", r, {"top1_agreement"});
  copyNumber(f, "max_logit_diff", r, {"max_abs_logit_diff"});
  copyNumber(f, "seconds", r, {"runtime", "seconds"});
}

void benchFigures(const json& r, json& f) {
  copyNumber(f, "tokens_per_second", r, {"generation_tokens_per_second"});
  copyNumber(f, "prompt_tokens_per_second", r, {"prompt_tokens_per_second"});
  copyNumber(f, "weight_bytes_per_token", r, {"weight_bytes_per_token"});
}

void evalFigures(const json& r, json& f) {
  copyNumber(f, "perplexity", r, {"perplexity"});
  copyNumber(f, "tokens_per_second", r, {"tokens_per_second"});
  copyNumber(f, "seconds", r, {"seconds"});
}

}  // namespace

json figuresOf(const json& report) {
  json f = json::object();
  if (!report.is_object()) return f;
  if (report.contains("figures") && report["figures"].is_object()) {  // written by this schema: as stored
    for (const auto& [key, value] : report["figures"].items())
      if (value.is_number()) f[key] = value;
    return f;
  }
  // Derived from the detailed fields: the shape tells the command (older reports included).
  if (isCompressReport(report))
    compressFigures(report, f);
  else if (report.contains("runtime") && report.contains("reference"))
    validateFigures(report, f);
  else if (report.contains("generation_tokens_per_second"))
    benchFigures(report, f);
  else
    evalFigures(report, f);
  return f;
}

json originalFiguresOf(const json& report) {
  json f = json::object();
  if (!report.is_object()) return f;
  if (report.contains("original_figures") && report["original_figures"].is_object()) return report["original_figures"];
  if (!isCompressReport(report)) return f;
  copyNumber(f, "perplexity", report, {"evaluation", "perplexity", "original"});
  copyNumber(f, "bytes", report, {"models", "original", "bytes"});
  copyNumber(f, "bits_per_weight", report, {"models", "original", "bits_per_weight"});
  return f;
}

std::string reportModelName(const json& report) {
  if (!report.is_object()) return "";
  for (const char* key : {"source_model", "model"})
    if (report.contains(key) && report[key].is_string() && !report[key].get<std::string>().empty()) {
      std::filesystem::path p(report[key].get<std::string>());
      if (!p.has_filename()) p = p.parent_path();  // "dir/" names the directory
      return p.filename().string();
    }
  return "";
}

std::string formatFigure(const FigureInfo& figure, double value) {
  switch (figure.unit) {
    case FigureUnit::Bytes: return withThousands(static_cast<int64_t>(value));
    case FigureUnit::Percent: return formatDouble("%.2f%%", value);
    case FigureUnit::Fraction: return formatDouble("%.4f", value);
    case FigureUnit::Nats: return formatDouble("%.5g", value);
    case FigureUnit::Seconds: return formatDouble("%.3f", value);
    case FigureUnit::TokensPerSecond: return formatDouble("%.1f", value);
    case FigureUnit::Plain: break;
  }
  return formatDouble("%.6g", value);
}

}  // namespace slmc
