// `slmc prune` end to end on stories260K with data the model generated itself: the report holds
// the figures the issue asks for, the artifacts load in every other command (eval, quantize,
// export, run), prune → quantize composes in one pipeline, and bad input ends in one error line
// with no output left behind.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/test_support.h"

using namespace slmc::test;
namespace fs = std::filesystem;

namespace {
const GeneratedStoriesData& data() {
  static const GeneratedStoriesData d("cli-prune-data", 16, 8, 128);
  return d;
}
std::string dataFlags() {
  return " --data " + data().calib + " --samples 16 --seq-len 128 --eval-data " + data().eval + " --eval-ctx 128";
}
}  // namespace

TEST_CASE("cli prune: SparseGPT 2:4 writes a sparse model, a report with per-layer sparsity, and a pack that keeps it") {
  ScratchDir dir("cli-prune-sparsegpt");
  const CommandResult r =
      runSlmc("-q prune " + stories260K() + " --method sparsegpt --nm 2:4" + dataFlags() + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("pruned 35 tensors to 2:4 with sparsegpt (50.0% zeros)") != std::string::npos);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  CHECK(report["pipeline"] == "prune(method=sparsegpt,nm=2:4)");
  const nlohmann::json& figures = report["passes"][0]["figures"];
  REQUIRE(figures["layer_sparsity"].size() == 5);
  for (const auto& layer : figures["layer_sparsity"]) CHECK(layer["sparsity"].get<double>() == doctest::Approx(0.5));
  const nlohmann::json& original = report["models"]["original"];
  const nlohmann::json& compressed = report["models"]["compressed"];
  CHECK(original["parameters"] == compressed["parameters"]);  // dense storage: same count, half of them zero
  CHECK(compressed["nonzero_parameters"].get<int64_t>() < original["nonzero_parameters"].get<int64_t>());
  CHECK(report["evaluation"]["perplexity"]["compressed"].get<double>() >
        report["evaluation"]["perplexity"]["original"].get<double>());
  CHECK(report["passes"][0].contains("seconds"));
  CHECK(readFile(dir / "out/slmc_report.md").find("non-zero parameters") != std::string::npos);

  // The sparse model is a model like any other: eval, export to a pack (which records the
  // pattern and verifies), the runtime's perplexity equals the report's, and run generates.
  const double ppl = report["evaluation"]["perplexity"]["compressed"];
  REQUIRE(runSlmc("-q export " + dir / "out" + " --format pack -o " + dir / "m.slmc").exit_code == 0);
  const CommandResult v = runSlmc("verify " + dir / "m.slmc");
  REQUIRE_MESSAGE(v.exit_code == 0, v.err);
  CHECK(v.out.find("sparsity     35 tensors 2:4 (sparsegpt)") != std::string::npos);
  const CommandResult e = runSlmc("-q eval " + dir / "m.slmc" + " --data " + data().eval + " --ctx 128 --json " + dir / "e.json");
  REQUIRE_MESSAGE(e.exit_code == 0, e.err);
  CHECK(readJson(dir / "e.json")["perplexity"].get<double>() == doctest::Approx(ppl).epsilon(1e-4));
  CHECK(runSlmc("-q run " + dir / "m.slmc" + " --prompt-ids 1 -n 8 --seed 1").exit_code == 0);
}

TEST_CASE("cli compress: prune then quantize in one pipeline keeps the 2:4 zeros through int4") {
  ScratchDir dir("cli-prune-quantize");
  const CommandResult r = runSlmc("-q compress " + stories260K() +
                                  " --passes \"prune(method=wanda,nm=2:4),quantize(method=gptq,bits=4,group_size=32)\"" +
                                  dataFlags() + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  REQUIRE(report["passes"].size() == 2);
  CHECK(report["passes"][0]["name"] == "prune");
  CHECK(report["passes"][1]["name"] == "quantize");
  const nlohmann::json config = readJson(dir / "out/config.json");
  CHECK(config["sparsity_config"]["weights"].size() == 35);
  CHECK(config["quantization_config"]["weights"].size() == 35);
  // Loading checks the recorded 2:4 against the dequantized weights: it holds after GPTQ.
  CHECK(runSlmc("-q inspect " + dir / "out").exit_code == 0);
  // Quantize first, prune second is refused before any work.
  expectError(runSlmc("-q compress " + stories260K() +
                      " --passes \"quantize(method=rtn,bits=8),prune(method=magnitude)\" -o " + dir / "bad"),
              "put prune before quantize");
  CHECK_FALSE(fs::exists(dir / "bad"));
}

TEST_CASE("cli prune: a recipe and the prune flags give byte-identical models") {
  ScratchDir dir("cli-prune-recipe");
  REQUIRE(runSlmc("-q compress " + stories260K() + " --recipe " + std::string(SLMC_SOURCE_DIR) +
                  "/configs/sparse-2of4-wanda.yaml" + dataFlags() + " -o " + dir / "a").exit_code == 0);
  REQUIRE(runSlmc("-q prune " + stories260K() + " --method wanda --nm 2:4" + dataFlags() + " -o " + dir / "b")
              .exit_code == 0);
  CHECK(readFile(dir / "a/model.safetensors") == readFile(dir / "b/model.safetensors"));
}

TEST_CASE("cli prune: bad input ends in one error line and leaves no output") {
  ScratchDir dir("cli-prune-bad");
  const std::string m = stories260K(), out = " -o " + dir / "out";
  expectError(runSlmc("-q prune " + m + " --method wanda" + out), "needs calibration data: pass --data FILE");
  expectError(runSlmc("-q prune " + m + " --method magnitude --sparsity 1.0" + out), "sparsity must be in [0, 1)");
  expectError(runSlmc("-q prune " + m + " --method magnitude --sparsity -0.5" + out), "sparsity must be in [0, 1)");
  expectError(runSlmc("-q prune " + m + " --method magnitude --nm 4:8" + out),
              "model.layers.0.mlp.down_proj.weight: N:M sparsity 4:8 needs the row width to be a multiple of M, but it "
              "has 172 columns");
  expectError(runSlmc("-q prune " + m + " --method magnitude --nm 4:2" + out), "4:2");
  expectError(runSlmc("-q prune " + m + " --method magnitude --layer-sparsity 0.5,0.5" + out),
              "layer_sparsity has 2 values but the model has 5 layers");
  expectError(runSlmc("-q prune " + m + " --method magnitude --damp 0.1" + out), "applies to method=sparsegpt only");
  expectError(runSlmc("-q prune " + m + " --sparsity 0.5" + out), "need --method");
  expectError(runSlmc("-q prune " + m + out), "nothing to do");
  expectError(runSlmc("-q prune " + m + " --structured heads=0.25" + out), "needs calibration data");
  expectError(runSlmc("-q prune " + m + " --structured head=0.25" + dataFlags() + out),
              "--structured key 'head' is not one of heads, ffn, layers");
  expectError(runSlmc("-q prune " + m + " --structured heads=0.4" + dataFlags() + out), "0.25");
  expectError(runSlmc("-q prune " + m + " --structured heads=1.0" + dataFlags() + out), "[0, 1)");
  expectError(runSlmc("-q prune " + m + " --structured layers=5" + dataFlags() + out), "layers");
  CHECK(dir.entries() == 0);
  CHECK(runSlmc("-q prune " + m + " --method nope" + out).exit_code == 2);

  // A quantized model cannot be pruned: its zeros are grid points, not a mask.
  REQUIRE(runSlmc("-q quantize " + m + " --method rtn --bits 8 -o " + dir / "q").exit_code == 0);
  expectError(runSlmc("-q prune " + dir / "q" + " --method magnitude" + out), "needs float weights");
  CHECK_FALSE(fs::exists(dir / "out"));
}

TEST_CASE("cli prune: structured pruning shrinks the tensors and config, and the result works everywhere") {
  ScratchDir dir("cli-prune-structured");
  const CommandResult r = runSlmc("-q prune " + stories260K() + " --structured heads=0.25,ffn=0.25,layers=1" +
                                  dataFlags() + " -o " + dir / "out");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json config = readJson(dir / "out/config.json");
  CHECK(config["num_hidden_layers"] == 4);
  CHECK(config["num_attention_heads"] == 6);  // 8 heads in 4 KV groups of 2: one whole group goes
  CHECK(config["num_key_value_heads"] == 3);
  CHECK(config["intermediate_size"] == 129);  // 172 - round(0.25 * 172)
  CHECK(config["head_dim"] == 8);
  const nlohmann::json report = readJson(dir / "out/slmc_report.json");
  CHECK(report["models"]["compressed"]["parameters"].get<int64_t>() <
        report["models"]["original"]["parameters"].get<int64_t>());
  CHECK(report["models"]["compressed"]["bytes"].get<int64_t>() < report["models"]["original"]["bytes"].get<int64_t>());
  // Every other command takes the smaller model: quantize, export to a pack, eval in the runtime.
  REQUIRE(runSlmc("-q quantize " + dir / "out" + " --method rtn --bits 8 --group-size 0 -o " + dir / "q").exit_code == 0);
  REQUIRE(runSlmc("-q export " + dir / "q" + " --format pack -o " + dir / "q.slmc").exit_code == 0);
  const CommandResult e = runSlmc("-q eval " + dir / "q.slmc" + " --data " + data().eval + " --ctx 128");
  CHECK_MESSAGE(e.exit_code == 0, e.err);
  CHECK(runSlmc("-q run " + dir / "q.slmc" + " --prompt-ids 1 -n 8").exit_code == 0);
}
