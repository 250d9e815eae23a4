// `export` as the terminal pass of a pipeline: `slmc compress --passes "…,export(format=pack)"`
// writes the pack itself (the same weights `slmc quantize` then `slmc export` give, its recipe
// recorded), GGUF likewise, the report sits beside the file, and a misplaced export or an output
// named for another format is refused before any work with nothing written.
#include <doctest/doctest.h>

#include <filesystem>

#include "lib/format/pack_reader.h"
#include "tests/test_support.h"

using namespace slmc::test;
namespace fs = std::filesystem;

namespace {
const GeneratedStoriesData& data() {
  static const GeneratedStoriesData d("export-pass-data", 8, 4, 64);
  return d;
}
double evalPerplexity(const std::string& model, const std::string& json_path) {
  const CommandResult e = runSlmc("-q eval " + model + " --data " + data().eval + " --ctx 64 --json " + json_path);
  REQUIRE_MESSAGE(e.exit_code == 0, e.err);
  return readJson(json_path)["perplexity"].get<double>();
}
}  // namespace

TEST_CASE("export pass: compress ending in export(format=pack) writes the pack quantize + export would") {
  ScratchDir dir("export-pass-pack");
  const std::string pipeline = "quantize(bits=4,group_size=32),export(format=pack)";
  const CommandResult r = runSlmc("-q compress " + stories260K() + " --passes \"" + pipeline + "\" --eval-data " +
                                  data().eval + " --eval-ctx 64 -o " + dir / "q.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(fs::is_regular_file(dir / "q.slmc"));
  CHECK(r.out.find("export     wrote " + dir / "q.slmc" + " (slmc pack v") != std::string::npos);

  // The report sits beside the file and carries the export's figures.
  const nlohmann::json report = readJson(dir / "q.slmc.report.json");
  CHECK(fs::is_regular_file(dir / "q.slmc.report.md"));
  CHECK(report["pipeline"] == pipeline);
  REQUIRE(report["passes"].size() == 2);
  const nlohmann::json& figures = report["passes"][1]["figures"];
  CHECK(report["passes"][1]["name"] == "export");
  CHECK(figures["format"] == "pack");
  CHECK(figures["bytes"].get<uint64_t>() == fs::file_size(dir / "q.slmc"));
  CHECK(figures["quantized_tensors"].get<int64_t>() > 0);
  CHECK(slmc::PackFile::open(dir / "q.slmc").provenance().recipe == pipeline);

  // Two steps give the same weights: the runtime scores both packs identically, and as the report did.
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --bits 4 --group-size 32 -o " + dir / "hf").exit_code == 0);
  REQUIRE(runSlmc("-q export " + dir / "hf" + " -o " + dir / "two.slmc").exit_code == 0);
  const double one_step = evalPerplexity(dir / "q.slmc", dir / "e1.json");
  CHECK(one_step == evalPerplexity(dir / "two.slmc", dir / "e2.json"));
  CHECK(one_step == doctest::Approx(report["evaluation"]["perplexity"]["compressed"].get<double>()).epsilon(1e-4));
  CHECK(slmc::PackFile::open(dir / "two.slmc").provenance().recipe == "quantize(method=rtn,bits=4,group_size=32)");
}

TEST_CASE("export pass: a recipe ending in export to GGUF writes a GGUF that loads back") {
  ScratchDir dir("export-pass-gguf");
  writeFile(dir / "r.yaml",
            "version: 1\nname: w8-gguf\npasses:\n  - quantize: {bits: 8, group_size: 32}\n  - export: {format: gguf}\n");
  const CommandResult r = runSlmc("-q compress " + stories260K() + " --recipe " + dir / "r.yaml" + " -o " + dir / "m.gguf");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = readJson(dir / "m.gguf.report.json");
  const nlohmann::json& figures = report["passes"][1]["figures"];
  CHECK(figures["format"] == "gguf");
  CHECK(figures["bytes"].get<uint64_t>() == fs::file_size(dir / "m.gguf"));
  CHECK(figures["tensor_types"].get<std::string>().find("Q8_0") != std::string::npos);
  const CommandResult i = runSlmc("inspect " + dir / "m.gguf");
  REQUIRE_MESSAGE(i.exit_code == 0, i.err);
}

TEST_CASE("export pass: slmc quantize and prune with -o NAME.slmc or NAME.gguf end in an export by that name") {
  ScratchDir dir("export-pass-implicit");
  const std::string m = stories260K();
  CommandResult r = runSlmc("-q quantize " + m + " --bits 4 --group-size 32 -o " + dir / "q.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(runSlmc("-q verify " + dir / "q.slmc").exit_code == 0);
  nlohmann::json report = readJson(dir / "q.slmc.report.json");
  CHECK(report["pipeline"] == "quantize(method=rtn,bits=4,group_size=32),export");
  CHECK(report["passes"][1]["figures"]["format"] == "pack");
  r = runSlmc("-q prune " + m + " --method magnitude --sparsity 0.5 -o " + dir / "p.gguf");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  report = readJson(dir / "p.gguf.report.json");
  CHECK(report["pipeline"] == "prune(method=magnitude,sparsity=0.5),export");
  CHECK(report["passes"][1]["figures"]["format"] == "gguf");
  REQUIRE(runSlmc("-q inspect " + dir / "p.gguf").exit_code == 0);
}

TEST_CASE("export pass: misplaced export, an output named for another format and bad options fail before any work") {
  ScratchDir dir("export-pass-bad");
  const std::string m = stories260K();
  expectError(runSlmc("-q compress " + m + " --passes \"export(format=pack),quantize(bits=4)\" -o " + dir / "a.slmc"),
              "pass 1 'export' must be the last pass but 'quantize' follows it");
  expectError(runSlmc("-q compress " + m + " --passes \"quantize(bits=4)\" -o " + dir / "b.slmc"),
              "is named like a pack, but the pipeline writes a Hugging Face directory (end it with export(format=pack)");
  expectError(runSlmc("-q compress " + m + " --passes \"quantize(bits=4),export(format=zip)\" -o " + dir / "c"),
              "'zip' is not one of auto, hf, pack, gguf");
  expectError(runSlmc("-q compress " + m + " --passes \"quantize(bits=4),export(format=hf,exact=true)\" -o " + dir / "d"),
              "--exact and --report apply to --format gguf only");
  expectError(runSlmc("-q compress " + m + " --passes \"quantize(bits=4),export(format=hf)\" -o " + dir / "e.gguf"),
              "is named like a GGUF");
  CHECK(dir.entries() == 0);  // nothing written, not even a temporary file
}
