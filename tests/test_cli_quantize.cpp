// `slmc quantize`, `slmc compress` and `slmc passes` end to end on stories260K with data the
// model generated itself: artifacts reload, recipes and flags agree byte for byte, reports hold
// the figures, and every bad input ends in one error line with no output left behind.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/test_support.h"

using namespace slmc::test;
namespace fs = std::filesystem;

namespace {
// Calibration and evaluation sets sampled from stories260K once per test binary run.
const GeneratedStoriesData& data() {
  static const GeneratedStoriesData d("cli-quantize-data", 32, 8, 128);
  return d;
}
std::string dataFlags() {
  return " --data " + data().calib + " --samples 32 --seq-len 128 --eval-data " + data().eval + " --eval-ctx 128";
}
}  // namespace

TEST_CASE("cli quantize: GPTQ on stories260K writes a reloadable model and a report with the figures") {
  ScratchDir dir("cli-quantize-gptq");
  const CommandResult r = runSlmc("-q quantize " + stories260K() + " --method gptq --bits 4 --group-size 32" +
                                  dataFlags() + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("quantized 35 tensors to int4-g32-sym with gptq") != std::string::npos);
  CHECK(r.out.find("top-1 agreement") != std::string::npos);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  CHECK(report["schema_version"] == 1);
  CHECK(report["pipeline"] == "quantize(method=gptq,bits=4,group_size=32)");
  CHECK(report["passes"][0]["figures"]["calibration"]["tokens"] == 32 * 128);
  CHECK(report["passes"][0]["warnings"].size() == 5);  // down_proj: 172 columns, per-channel fallback
  CHECK(report["calibration"]["samples"] == 32);
  CHECK(report["models"]["compressed"]["bytes"].get<int64_t>() * 3 < report["models"]["original"]["bytes"].get<int64_t>());
  const double ppl = report["evaluation"]["perplexity"]["compressed"];
  CHECK(ppl > report["evaluation"]["perplexity"]["original"].get<double>());
  CHECK(fs::exists(dir / "out/slmc_report.md"));

  // The artifact is a model every command accepts, with the same perplexity the report measured.
  const CommandResult e = runSlmc("-q eval " + dir / "out" + " --data " + data().eval + " --ctx 128 --json " + dir / "e.json");
  REQUIRE_MESSAGE(e.exit_code == 0, e.err);
  CHECK(readJson(dir / "e.json")["perplexity"].get<double>() == doctest::Approx(ppl).epsilon(1e-4));
  // Quantizing it again is refused: its weights already sit on a grid.
  expectError(runSlmc("-q quantize " + dir / "out" + " --method rtn -o " + dir / "again"), "needs float weights");
  CHECK_FALSE(fs::exists(dir / "again"));
}

// Flags reach the pass as written: --damp 1e-7 once ran as damp 0.0 (std::to_string's 6 decimals).
TEST_CASE("cli quantize: small floating-point flags keep their value") {
  ScratchDir dir("cli-quantize-damp");
  const CommandResult r = runSlmc("-q quantize " + stories260K() + " --method gptq --bits 4 --group-size 32 --damp 1e-7" +
                                  dataFlags() + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  CHECK(report["pipeline"] == "quantize(method=gptq,bits=4,group_size=32,damp=1e-7)");
}

TEST_CASE("cli compress: a recipe, inline passes and quantize flags give byte-identical models") {
  ScratchDir dir("cli-compress");
  const std::string flags = dataFlags();
  REQUIRE(runSlmc("-q compress " + stories260K() + " --recipe " + std::string(SLMC_SOURCE_DIR) +
                  "/configs/w4-gptq.yaml" + flags + " -o " + dir / "a").exit_code == 0);
  REQUIRE(runSlmc("-q compress " + stories260K() +
                  " --passes \"quantize(method=gptq,bits=4,group_size=128,damp=0.01,keep={lm_head,embed})\"" + flags +
                  " -o " + dir / "b").exit_code == 0);
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method gptq --bits 4 --group-size 128" + flags + " -o " +
                  dir / "c").exit_code == 0);
  const std::string a = readFile(dir / "a/model.safetensors");
  CHECK(a == readFile(dir / "b/model.safetensors"));
  CHECK(a == readFile(dir / "c/model.safetensors"));
  CHECK(readJson(dir / "a/slmc_report.json")["passes"][0]["figures"]["calibration"]["seq_len"] == 128);  // flag wins
}

TEST_CASE("cli quantize: W8A8 SmoothQuant and the statistics cache") {
  ScratchDir dir("cli-quantize-sq");
  const CommandResult r = runSlmc("-q quantize " + stories260K() + " --method smoothquant --act-mode static" +
                                  dataFlags() + " --stats-cache " + dir / "stats.h5" + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("int8-channel-sym with smoothquant (activations int8 static)") != std::string::npos);
  CHECK(fs::exists(dir / "stats.h5"));
  const nlohmann::json config = readJson(dir / "out/config.json");
  CHECK(config["quantization_config"]["activations"].size() == 35);
  const CommandResult again = runSlmc("-q quantize " + stories260K() + " --method smoothquant --act-mode static" +
                                      dataFlags() + " --stats-cache " + dir / "stats.h5" + " -o " + dir / "out2");
  REQUIRE(again.exit_code == 0);
  CHECK(readJson(dir / "out2/slmc_report.json")["passes"][0]["figures"]["calibration"]["stats_cache_hit"] == true);
  CHECK(readFile(dir / "out/model.safetensors") == readFile(dir / "out2/model.safetensors"));
  // The same cache for another method is refused.
  expectError(runSlmc("-q quantize " + stories260K() + " --method gptq" + dataFlags() + " --stats-cache " +
                      dir / "stats.h5" + " -o " + dir / "out3"),
              "was computed for another pass");
  CHECK_FALSE(fs::exists(dir / "out3"));
}

TEST_CASE("cli quantize: bad input ends in one error line and leaves no output") {
  ScratchDir dir("cli-quantize-bad");
  const std::string m = stories260K(), out = " -o " + dir / "out";
  expectError(runSlmc("-q quantize " + m + " --method gptq" + out), "needs calibration data: pass --data FILE");
  expectError(runSlmc("-q quantize " + m + " --method gptq --data " + data().calib + " --samples 33 --seq-len 128" + out),
              "33 were requested");
  expectError(runSlmc("-q quantize " + m + " --method rtn --group-size 32 --strict-groups" + out),
              "'model.layers.0.mlp.down_proj.weight' has rows of 172 columns");
  expectError(runSlmc("-q quantize " + m + " --method gptq --data " + data().calib + " --seq-len 1024" + out),
              "exceeds the model's context of 512");
  expectError(runSlmc("-q quantize " + m + " --method rtn --bits 7" + out), "'7' is not one of 2, 3, 4, 5, 6, 8");
  expectError(runSlmc("-q quantize " + m + " --method rtn --alpha 0.5" + out), "applies to method=smoothquant only");
  expectError(runSlmc("-q quantize " + m + " --method rtn --data " + dir / "missing.txt --eval-data " + dir / "nope.h5" +
                      out),
              "nope.h5");
  expectError(runSlmc("-q compress " + m + " --passes \"quantize(bitz=4)\"" + out), "unknown option 'bitz'");
  expectError(runSlmc("-q compress " + m + " --passes \"quantise(bits=4)\"" + out), "unknown pass 'quantise'");
  writeFile(dir / "bad.yaml", "version: 1\nname: x\npasses:\n  - quantize: {bits: 4}\ncalibraton: {samples: 4}\n");
  expectError(runSlmc("-q compress " + m + " --recipe " + dir / "bad.yaml" + out), "calibraton");
  writeFile(dir / "nan.txt", "");
  CHECK(dir.entries() == 2);  // only the two files written here: no output directory, no temp files
  CHECK(runSlmc("-q quantize " + m + " --method nope" + out).exit_code == 2);
}

TEST_CASE("cli passes: lists the quantize pass with its options and defaults") {
  const CommandResult r = runSlmc("passes");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("quantize:") != std::string::npos);
  CHECK(r.out.find("method=<string>") != std::string::npos);
  CHECK(r.out.find("[default: 128") != std::string::npos);
}
