// Reports a CI job gates on: the shared figure names (lib/report/report_figures.h), gate parsing
// and checking, comparison tables, schema checks, Markdown tables and the Pareto front.
#include <doctest/doctest.h>

#include "lib/report/gate.h"
#include "lib/report/markdown_table.h"
#include "lib/report/report.h"
#include "lib/report/report_comparison.h"
#include "lib/report/report_figures.h"
#include "lib/report/report_file.h"
#include "lib/report/report_html.h"
#include "lib/report/usage_error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
using nlohmann::json;

namespace {

// A compress report as Report writes it: 1,000,000 bytes → `bytes`, perplexity 10 → `compressed`.
json compressReport(const std::string& model, int64_t bytes, double ppl, double kl, double top1) {
  Report r;
  r.setCommand("quantize");
  r.setSourceModel(model);
  ModelSize original, compressed;
  original.parameters = compressed.parameters = 1000;
  original.bytes = 4000, original.bits_per_weight = 32;
  compressed.bytes = bytes, compressed.bits_per_weight = 8.0 * static_cast<double>(bytes) / 1000;
  r.setOriginalModel(original);
  r.setCompressedModel(compressed);
  PassRecord p;
  p.name = "quantize";
  p.seconds = 2.5;
  p.peak_rss_bytes = 300 << 20;
  r.setPasses({p});
  r.setEvaluation({{"perplexity", {{"original", 10.0}, {"compressed", ppl}}},
                   {"perplexity_increase_percent", 100.0 * (ppl / 10.0 - 1.0)},
                   {"mean_kl", kl},
                   {"top1_agreement", top1}});
  return r.toJson();
}

ReportFile file(const std::string& label, const json& j) { return {label + ".json", label, j}; }

std::string usageErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  } catch (const Error& e) {
    return std::string("not a usage error: ") + e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("report figures: one set of names for compress, eval, validate and bench reports") {
  const json c = compressReport("models/stories260K.bin", 1000, 12.0, 0.01, 0.9);
  const json& f = c["figures"];
  CHECK(f["perplexity"] == 12.0);
  CHECK(f["perplexity_original"] == 10.0);
  CHECK(f["ppl_increase"].get<double>() == doctest::Approx(20.0));
  CHECK(f["kl"] == 0.01);
  CHECK(f["top1"] == 0.9);
  CHECK(f["bytes"] == 1000);
  CHECK(f["bits_per_weight"] == 8.0);
  CHECK(f["size_ratio"] == 4.0);
  CHECK(f["seconds"] == 2.5);
  CHECK(f["peak_memory"] == 300 << 20);
  CHECK(c["original_figures"]["bytes"] == 4000);
  CHECK(c["original_figures"]["perplexity"] == 10.0);
  // A report written before `figures` existed gives the same figures from its detailed fields.
  json legacy = c;
  legacy.erase("figures");
  legacy.erase("original_figures");
  CHECK(figuresOf(legacy) == f);
  CHECK(originalFiguresOf(legacy) == c["original_figures"]);

  const json eval = {{"schema_version", 1}, {"command", "eval"}, {"model", "m.slmc"}, {"perplexity", 7.5},
                     {"tokens_per_second", 900.0}, {"seconds", 0.5}};
  CHECK(figuresOf(eval) == json{{"perplexity", 7.5}, {"tokens_per_second", 900.0}, {"seconds", 0.5}});
  const json validate = {{"command", "validate"}, {"mean_kl", 1e-9}, {"top1_agreement", 1.0}, {"max_abs_logit_diff", 1e-4},
                         {"runtime", {{"perplexity", 10.1}, {"seconds", 2.0}}}, {"reference", {{"perplexity", 10.0}}}};
  const json v = figuresOf(validate);
  CHECK(v["ppl_increase"].get<double>() == doctest::Approx(1.0));
  CHECK(v["perplexity_original"] == 10.0);
  CHECK(v["max_logit_diff"] == 1e-4);
  CHECK(v["seconds"] == 2.0);
  const json bench = {{"command", "bench"}, {"generation_tokens_per_second", 50.0}, {"prompt_tokens_per_second", 400.0},
                      {"weight_bytes_per_token", 123}};
  CHECK(figuresOf(bench) ==
        json{{"tokens_per_second", 50.0}, {"prompt_tokens_per_second", 400.0}, {"weight_bytes_per_token", 123}});
  // Every figure a report can hold is in the table (docs/report-schema.md lists the same).
  for (const json& j : {f, v, figuresOf(eval), figuresOf(bench)})
    for (const auto& [key, value] : j.items()) CHECK_MESSAGE(findFigure(key), key);
  CHECK(reportModelName(c) == "stories260K.bin");
  CHECK(reportModelName(json{{"source_model", "models/smollm2/"}}) == "smollm2");
}

TEST_CASE("gate: conditions parse with their units") {
  const auto g = parseGate("ppl_increase<=2%, bytes<=100MB,kl<0.02,tokens_per_second>=0.95x,perplexity<=+5%,peak_memory<2GiB");
  REQUIRE(g.size() == 6);
  CHECK(g[0].figure == "ppl_increase");
  CHECK(g[0].bound == GateBound::Absolute);  // ppl_increase is itself in percent
  CHECK(g[0].number == 2.0);
  CHECK(g[1].number == 100e6);
  CHECK(g[2].op == GateOp::Less);
  CHECK(g[3].bound == GateBound::TimesBase);
  CHECK(g[3].op == GateOp::GreaterEqual);
  CHECK(g[4].bound == GateBound::PercentOfBase);
  CHECK(g[4].number == 5.0);
  CHECK(g[5].number == 2.0 * 1024 * 1024 * 1024);
}

TEST_CASE("gate: a malformed gate is one usage error naming the condition") {
  CHECK(usageErrorOf([] { parseGate("ppl_inc<=2%"); }).find(
            "gate condition 'ppl_inc<=2%': unknown figure 'ppl_inc'; did you mean 'ppl_increase'? (figures: perplexity,") == 0);
  CHECK(usageErrorOf([] { parseGate("kll<=0.02"); }).find("did you mean 'kl'?") != std::string::npos);
  CHECK(usageErrorOf([] { parseGate("bytes 100MB"); }) ==
        "gate condition 'bytes 100MB': expected <=, >=, < or > after 'bytes'");
  CHECK(usageErrorOf([] { parseGate("bytes<=lots"); }) == "gate condition 'bytes<=lots': expected a number after '<='");
  CHECK(usageErrorOf([] { parseGate("kl<=2MB"); }) ==
        "gate condition 'kl<=2MB': unit 'MB' applies to byte figures only (bytes, weight_bytes_per_token, peak_memory)");
  CHECK(usageErrorOf([] { parseGate("bytes<=2mb"); }) ==
        "gate condition 'bytes<=2mb': unknown unit 'mb' (use x, %, B, KB, MB, GB, KiB, MiB or GiB)");
  CHECK(usageErrorOf([] { parseGate("kl<=0.1,,bytes<=1"); }) ==
        "gate 'kl<=0.1,,bytes<=1': empty condition (write conditions like 'bytes<=100MB,kl<=0.02')");
  CHECK(usageErrorOf([] { parseGate("<=3"); }) == "gate condition '<=3': expected a figure name first (e.g. bytes<=100MB)");
}

TEST_CASE("gate: absolute, times-base and percent-of-base bounds, missing figures fail") {
  const json base = {{"bytes", 1000}, {"tokens_per_second", 100.0}, {"perplexity", 10.0}};
  const json now = {{"bytes", 1050}, {"tokens_per_second", 96.0}, {"perplexity", 10.4}, {"ppl_increase", 4.0}};
  const auto gate = parseGate("bytes<=1.1x,tokens_per_second>=0.95x,perplexity<=+5%,ppl_increase<=3%,kl<=0.1,top1>=0.9x");
  const auto checks = checkGate(gate, now, base, "base");
  REQUIRE(checks.size() == 6);
  CHECK(checks[0].passed);
  CHECK(checks[0].message == "bytes = 1,050, limit <= 1,100 (<=1.1x of base's 1,000) (holds)");
  CHECK(checks[1].passed);
  CHECK(checks[2].passed);  // 10.4 <= 10.5
  CHECK_FALSE(checks[3].passed);
  CHECK(checks[3].message == "ppl_increase = 4.00%, limit <= 3.00% (fails)");
  CHECK_FALSE(checks[4].passed);
  CHECK(checks[4].message == "kl<=0.1: kl is not in the report (its command does not measure it)");
  CHECK_FALSE(checks[5].passed);
  CHECK(checks[5].message == "top1>=0.9x: top1 is not in the report (its command does not measure it)");
  const auto relative = checkGate(parseGate("bytes<=+2%"), now, json::object(), "base");
  CHECK(relative[0].message == "bytes<=+2%: base has no bytes to compare with");
  CHECK_FALSE(allPassed(checks));
  CHECK(allPassed(checkGate(parseGate("bytes<=2KB"), now, base, "base")));
}

TEST_CASE("report compare: shared figures with deltas, missing ones listed, different models refused") {
  const json base = compressReport("a/stories260K.bin", 1000, 12.0, 0.01, 0.9);
  const json next = compressReport("b/stories260K.bin", 800, 13.2, 0.02, 0.85);
  const json eval = {{"schema_version", 1}, {"command", "eval"}, {"model", "x/stories260K.bin"}, {"perplexity", 11.0},
                     {"tokens_per_second", 900.0}};
  const ReportComparison c = compareReports({file("base", base), file("new", next), file("eval", eval)}, false);
  const std::string md = comparisonMarkdown(c);
  CHECK(md.find("| figure | base (base) | new | Δ | Δ % | eval | Δ | Δ % |\n|---|---:|---:|---:|---:|---:|---:|---:|\n") !=
        std::string::npos);
  CHECK(md.find("| bytes (`bytes`) | 1,000 | 800 | -200 | -20.00% | – |  |  |\n") != std::string::npos);
  CHECK(md.find("| perplexity increase over the original (`ppl_increase`) | 20.00% | 32.00% | +12.00 pp | +60.00% |") !=
        std::string::npos);
  CHECK(md.find("- `kl`: not in `eval`\n") != std::string::npos);
  CHECK(md.find("- `tokens_per_second`: not in `base`, `new`\n") != std::string::npos);
  const json j = comparisonJson(c);
  CHECK(j["figures"]["bytes"]["values"] == json{1000.0, 800.0, nullptr});
  CHECK(j["figures"]["bytes"]["delta"][0] == -200.0);
  CHECK(j["figures"]["bytes"]["relative_delta"][0] == doctest::Approx(-0.2));
  CHECK(j["missing"].size() > 0);

  const json other = compressReport("models/smollm2.gguf", 800, 13.2, 0.02, 0.85);
  CHECK(usageErrorOf([&] { compareReports({file("base", base), file("other", other)}, false); }) ==
        "reports are of different models: 'base.json' of 'stories260K.bin', 'other.json' of 'smollm2.gguf' (pass "
        "--allow-different-models to compare them anyway)");
  CHECK(compareReports({file("base", base), file("other", other)}, true).figures.size() > 0);
  CHECK(usageErrorOf([&] { compareReports({file("base", base)}, false); }).find("needs a BASE report") !=
        std::string::npos);

  const auto gate = parseGate("bytes<=0.9x,kl<=0.015");
  const ReportComparison gated = compareReports({file("base", base), file("new", next)}, false, &gate);
  CHECK(gateFailureLine(gated) == "gate failed (1 of 2 conditions): new: kl = 0.02, limit <= 0.015 (fails)");
  CHECK(comparisonMarkdown(gated).find("| new | `kl<=0.015` | **FAIL** |") != std::string::npos);
  CHECK(comparisonJson(gated)["gate_passed"] == false);
}

TEST_CASE("report file: missing, not JSON, not a report, newer schema: one usage error each") {
  ScratchDir dir("report-file");
  CHECK(usageErrorOf([&] { readReportFile(dir / "nope.json"); }) ==
        "report '" + (dir / "nope.json") + "' does not exist (check the path)");
  writeFile(dir / "bad.json", "{\"schema_version\": 1,");
  CHECK(usageErrorOf([&] { readReportFile(dir / "bad.json"); }).find("is not valid JSON") != std::string::npos);
  writeFile(dir / "list.json", "[1,2]");
  CHECK(usageErrorOf([&] { readReportFile(dir / "list.json"); }).find("is not a JSON object") != std::string::npos);
  writeFile(dir / "plain.json", "{\"perplexity\": 3}");
  CHECK(usageErrorOf([&] { readReportFile(dir / "plain.json"); }).find("has no integer schema_version") !=
        std::string::npos);
  writeFile(dir / "future.json", "{\"schema_version\": 2}");
  CHECK(usageErrorOf([&] { readReportFile(dir / "future.json"); }) ==
        "report '" + (dir / "future.json") + "' has schema_version 2, newer than this slmc reads (1): use a newer slmc to read it");
  writeFile(dir / "ok.json", compressReport("m.bin", 10, 1, 0, 1).dump());
  const ReportFile ok = readReportFile(dir / "ok.json");
  CHECK(ok.label == "ok");
  CHECK(ok.json["figures"]["bytes"] == 10);
}

TEST_CASE("markdown tables: per-layer and per-tensor rows flatten into one table, long ones fold") {
  const json layers = json::array({{{"layer", 0}, {"tensors", {{{"tensor", "q"}, {"error", 0.5}}, {{"tensor", "k|v"}}}}},
                                   {{"layer", 1}, {"tensors", {{{"tensor", "q"}, {"error", 0.25}, {"scheme", "int4"}}}}}});
  const MarkdownTable t = tableFromJsonRows(layers);
  CHECK(renderMarkdownTable(t) ==
        "| layer | tensor | error | scheme |\n|---:|---|---:|---|\n| 0 | q | 0.5 |  |\n| 0 | k\\|v |  |  |\n"
        "| 1 | q | 0.25 | int4 |\n");
  CHECK(foldedMarkdownTable("layers", t) == "**layers**\n\n" + renderMarkdownTable(t) + "\n");
  CHECK(foldedMarkdownTable("layers", t, 2).rfind("<details><summary>layers (3 rows)</summary>\n\n| layer |", 0) == 0);
  CHECK_FALSE(isJsonRowArray(json::array({1, 2})));

  // A pass's per-layer figures in the report Markdown: a real table, not a JSON blob in a cell.
  Report r;
  PassRecord p;
  p.name = "quantize";
  p.result.figures = {{"method", "rtn"}, {"layers", layers}};
  r.setPasses({p});
  const std::string md = r.toMarkdown();
  CHECK(md.find("| figure | value |\n|---|---:|\n| method | rtn |\n\n**layers**\n\n| layer | tensor | error | scheme |") !=
        std::string::npos);
  CHECK(md.find("[{") == std::string::npos);
}

TEST_CASE("report html: Pareto front and a self-contained page") {
  // (bytes, perplexity): b beats a on both; c is smaller but worse; d is dominated by b.
  const std::vector<std::pair<double, double>> points = {{10, 5}, {8, 4}, {2, 9}, {9, 6}};
  CHECK(paretoFront(points) == std::vector<size_t>{2, 1});
  const json a = compressReport("m.bin", 1000, 12.0, 0.01, 0.9), b = compressReport("m.bin", 2000, 11.0, 0.01, 0.9);
  const std::string html = reportsHtml({file("a", a), file("b", b)});
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // the SVG namespace, no fetched resource
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("(Pareto front)") != std::string::npos);
  CHECK(html.find("per-pass seconds") != std::string::npos);
  CHECK(html.find("original (m.bin)") != std::string::npos);
}
