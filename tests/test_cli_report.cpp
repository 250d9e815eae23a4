// slmc report compare / html, gates in compress and in recipes, the CI recipe and its stored
// baseline, and the figures block of eval reports, driven through the CLI on stories260K.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/test_support.h"

using namespace slmc::test;

namespace {

std::string sample() { return fixture("reference/stories260K_sample.txt"); }

// One RTN quantization of stories260K with evaluation: well under a second.
std::string quantizeArgs(int bits, const std::string& out, const std::string& report) {
  return "-q quantize " + stories260K() + " --method rtn --bits " + std::to_string(bits) +
         " --group-size 0 --eval-tokens " + sample() + " --eval-ctx 128 -o " + out + " --report " + report;
}

void expectUsageError(const CommandResult& r, const std::string& text) {
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.rfind("slmc: error: ", 0) == 0, r.err);
  CHECK_MESSAGE(r.err.find(text) != std::string::npos, r.err);
  CHECK_MESSAGE(countLines(r.err) == 1, r.err);
}

}  // namespace

TEST_CASE("cli report: compare two quantizations, gate them, and plot them") {
  ScratchDir dir("cli-report");
  const auto w8 = runSlmc(quantizeArgs(8, dir / "w8", dir / "w8.json"));
  REQUIRE_MESSAGE(w8.exit_code == 0, w8.err);
  // The summary a person reads at a glance.
  CHECK(w8.out.find("in         " + stories260K() + ": 260,032 parameters, 0.99 MiB, 32.00 bits/weight") !=
        std::string::npos);
  CHECK(w8.out.find("(2.84x smaller)") != std::string::npos);
  CHECK(w8.out.find("quality    perplexity 161.18") != std::string::npos);
  CHECK(w8.out.find("report     " + (dir / "w8.json") + "  (summary " + (dir / "w8.md") + ")") != std::string::npos);
  REQUIRE(runSlmc(quantizeArgs(4, dir / "w4", dir / "w4.json")).exit_code == 0);

  const auto md = runSlmc("report compare " + (dir / "w8.json") + " " + (dir / "w4.json"));
  REQUIRE_MESSAGE(md.exit_code == 0, md.err);
  CHECK(md.out.find("| figure | w8 (base) | w4 | Δ | Δ % |") != std::string::npos);
  CHECK(md.out.find("| bytes (`bytes`) | 366,448 |") != std::string::npos);
  const auto js = runSlmc("report compare --json " + (dir / "w8.json") + " " + (dir / "w4.json"));
  REQUIRE(js.exit_code == 0);
  const auto j = nlohmann::json::parse(js.out);
  CHECK(j["figures"]["bytes"]["values"][0] == 366448.0);
  CHECK(j["figures"]["bytes"]["delta"][0].get<double>() < 0);

  const std::string both = " " + (dir / "w8.json") + " " + (dir / "w4.json");
  const auto pass = runSlmc("report compare" + both + " --gate \"bytes<=1.0x,bytes<=1MB,kl<=100\"");
  CHECK_MESSAGE(pass.exit_code == 0, pass.err);
  const auto fail = runSlmc("report compare" + both + " --gate \"ppl_increase<=2%,bytes<=100MB,kl<=0.02,top1>=0.95x\"");
  CHECK(fail.exit_code == 1);
  CHECK(countLines(fail.err) == 1);
  CHECK(fail.err.find("slmc: error: gate failed (3 of 4 conditions): w4: ppl_increase = ") == 0);
  CHECK(fail.err.find("w4: top1 = ") != std::string::npos);
  CHECK(fail.out.find("| w4 | `bytes<=100MB` | pass |") != std::string::npos);

  const auto html = runSlmc("report html" + both + " -o " + (dir / "r.html"));
  REQUIRE_MESSAGE(html.exit_code == 0, html.err);
  const std::string page = readFile(dir / "r.html");
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);

  // Bad input: one line, exit 2, and nothing compared.
  expectUsageError(runSlmc("report compare" + both + " --gate \"ppl_inc<=2%\""), "did you mean 'ppl_increase'?");
  expectUsageError(runSlmc("report compare" + both + " --gate \"bytes<=\""), "expected a number after '<='");
  expectUsageError(runSlmc("report compare " + (dir / "w8.json") + " " + (dir / "w8.md")), "is not valid JSON");
  writeFile(dir / "other.json", "{\"schema_version\": 1, \"command\": \"eval\", \"model\": \"smollm2.gguf\", \"perplexity\": 9}");
  expectUsageError(runSlmc("report compare " + (dir / "w8.json") + " " + (dir / "other.json")),
                   "reports are of different models");
  CHECK(runSlmc("report compare --allow-different-models " + (dir / "w8.json") + " " + (dir / "other.json")).exit_code == 0);
  writeFile(dir / "future.json", "{\"schema_version\": 7}");
  expectUsageError(runSlmc("report compare " + (dir / "w8.json") + " " + (dir / "future.json")),
                   "has schema_version 7, newer than this slmc reads (1)");
  CHECK(runSlmc("report compare " + (dir / "w8.json")).exit_code == 2);  // BASE alone
}

TEST_CASE("cli report: a compress gate fails the job after writing the report") {
  ScratchDir dir("cli-report-gate");
  const auto r = runSlmc(quantizeArgs(4, dir / "w4", dir / "w4.json") + " --gate \"bytes<=0.3x,ppl_increase<=5%\"");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find(", limit <= 312,038 (<=0.3x of the original's 1,040,128) (holds)") != std::string::npos);
  CHECK(r.err.find("slmc: error: gate failed (1 of 2 conditions; the report is written): ppl_increase = ") == 0);
  CHECK(countLines(r.err) == 1);
  CHECK(std::filesystem::exists(dir / "w4.json"));
  CHECK(std::filesystem::exists(dir / "w4/config.json"));
  // A malformed gate stops before any work: nothing is written.
  expectUsageError(runSlmc(quantizeArgs(4, dir / "x", dir / "x.json") + " --gate \"bites<=1MB\""),
                   "unknown figure 'bites'");
  CHECK_FALSE(std::filesystem::exists(dir / "x"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.json"));
}

TEST_CASE("cli report: the CI recipe gates an 8-bit quantization against its stored baseline") {
  ScratchDir dir("cli-report-ci");
  const std::string recipe = std::string(SLMC_SOURCE_DIR) + "/configs/ci-gate-stories260k-w8.yaml";
  const auto r = runSlmc("-q compress " + stories260K() + " --recipe " + recipe + " --eval-tokens " + sample() + " -o " +
                         (dir / "out"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("gate       perplexity = ") != std::string::npos);
  CHECK(r.out.find("(fails)") == std::string::npos);
  // The same recipe with a gate the baseline cannot meet fails the job, naming the condition.
  const auto tight = runSlmc("-q compress " + stories260K() + " --recipe " + recipe + " --eval-tokens " + sample() +
                             " -o " + (dir / "tight") + " --gate \"bytes<=0.5x\"");
  CHECK(tight.exit_code == 1);
  CHECK(tight.err.find("bytes = 366,448, limit <= 183,224 (<=0.5x of stories260K-w8-rtn's 366,448) (fails)") !=
        std::string::npos);
  // The written report compares with the baseline, the same gate passing.
  const auto cmp = runSlmc("report compare " + std::string(SLMC_SOURCE_DIR) +
                           "/configs/baselines/stories260K-w8-rtn.json " + (dir / "out/slmc_report.json") +
                           " --gate \"perplexity<=+1%,bytes<=1.0x,kl<=0.05\"");
  CHECK_MESSAGE(cmp.exit_code == 0, cmp.err);
}

TEST_CASE("cli report: the SmolLM2 CI gate's recipe, gate and stored baseline read and agree") {
  // The run itself takes minutes (README); here: the recipe builds, the gate parses, and the
  // baseline is a report of the same model that meets its own gate.
  const std::string configs = std::string(SLMC_SOURCE_DIR) + "/configs/";
  const auto parsed = runSlmc("report compare " + configs + "baselines/smollm2-w4-rtn.json " + configs +
                              "baselines/smollm2-w4-rtn.json --gate \"perplexity<=+1%,bytes<=1.0x,ppl_increase<=30%,"
                              "kl<=0.4,top1>=0.68\"");
  CHECK_MESSAGE(parsed.exit_code == 0, parsed.err);
  const nlohmann::json base = readJson(configs + "baselines/smollm2-w4-rtn.json");
  CHECK(base["source_model"].get<std::string>().find("SmolLM2-135M-Instruct.Q4_1.gguf") != std::string::npos);
  CHECK(base["pipeline"] == "quantize(method=rtn,bits=4,group_size=32,embedding=int8-channel),export(format=pack)");
  const std::string recipe = readFile(configs + "ci-gate-smollm2-w4.yaml");
  CHECK(recipe.find("gate: \"perplexity<=+1%,bytes<=1.0x,ppl_increase<=30%,kl<=0.4,top1>=0.68\"") != std::string::npos);
}

TEST_CASE("cli report: eval reports carry the shared figures") {
  ScratchDir dir("cli-report-eval");
  REQUIRE(runSlmc("-q eval " + stories260K() + " --tokens " + sample() + " --ctx 128 --json " + (dir / "e.json")).exit_code == 0);
  const auto e = readJson(dir / "e.json");
  CHECK(e["figures"]["perplexity"] == e["perplexity"]);
  CHECK(e["figures"]["tokens_per_second"] == e["tokens_per_second"]);
  CHECK(e["figures"]["seconds"] == e["seconds"]);
}
