#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "lib/support/version.h"
#include "tests/test_support.h"

using namespace slmc::test;

TEST_CASE("cli: --version, --help and usage errors") {
  const auto version = runSlmc("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("slmc 0.1.0") != std::string::npos);
  CHECK(runSlmc("--help").exit_code == 0);
  CHECK(runSlmc("eval --help").out.find("--stride") != std::string::npos);
  CHECK(runSlmc("").exit_code == 2);
  CHECK(runSlmc("frobnicate").exit_code == 2);
  CHECK(runSlmc("eval " + stories260K()).exit_code == 2);  // --tokens is required
  CHECK(runSlmc("eval " + stories260K() + " --tokens x.txt --ctx 1").exit_code == 2);
}

TEST_CASE("cli: inspect the real model as text and JSON") {
  const auto text = runSlmc("inspect " + stories260K());
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("parameters   260032") != std::string::npos);
  CHECK(text.out.find("8 q / 4 kv") != std::string::npos);
  const auto json = runSlmc("inspect --json --tensors " + stories260K());
  REQUIRE(json.exit_code == 0);
  const auto j = nlohmann::json::parse(json.out);
  CHECK(j["total_params"] == 260032);
  CHECK(j["params_by_kind"]["mlp"] == 165120);
  CHECK(j["config"]["num_kv_heads"] == 4);
  CHECK(j["tensors"].size() == 47);
  CHECK(j["bytes_by_dtype"]["F32"] == 1040128);
}

TEST_CASE("cli: eval writes perplexity and speed to JSON") {
  ScratchDir dir("cli-eval");
  const auto r = runSlmc("--threads 2 eval " + stories260K() + " --tokens " + fixture("reference/stories260K_sample.txt") +
                         " --ctx 256 --stride 128 --json " + (dir / "eval.json"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("perplexity") != std::string::npos);
  const auto j = readJson(dir / "eval.json");
  CHECK(j["tokens_scored"] == 255);
  CHECK(j["ctx"] == 256);
  CHECK(j["stride"] == 128);
  CHECK(j["threads"] == 2);
  // One window covers the sample: the same loss transformers computed for it.
  const double golden = readJson(fixture("reference/stories260K_logits.json"))["sample_mean_nll"];
  CHECK(j["mean_nll"].get<double>() == doctest::Approx(golden).epsilon(1e-4));
  CHECK(j["perplexity"].get<double>() < 20.0);
  CHECK(j["tokens_per_second"].get<double>() > 0);
}

TEST_CASE("cli: eval --second-half scores llama-perplexity's targets, alike in the runtime and the reference") {
  ScratchDir dir("cli-eval-half");
  REQUIRE(runSlmc("-q export " + stories260K() + " --format pack --float-dtype f32 -o " + (dir / "m.slmc")).exit_code == 0);
  const std::string tokens = " --tokens " + fixture("reference/stories260K_sample.txt") + " --ctx 64 --second-half";
  const auto runtime = runSlmc("eval " + (dir / "m.slmc") + tokens + " --json " + (dir / "runtime.json"));
  REQUIRE_MESSAGE(runtime.exit_code == 0, runtime.err);
  const auto reference = runSlmc("eval " + stories260K() + tokens + " --json " + (dir / "reference.json"));
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.err);
  const auto a = readJson(dir / "runtime.json"), b = readJson(dir / "reference.json");
  CHECK(a["scored"] == "second half");
  CHECK(a["windows"] == 4);          // 256 sample tokens: 4 whole windows of 64
  CHECK(a["tokens_scored"] == 124);  // 4 x (64 - 1 - 32)
  CHECK(b["tokens_scored"] == 124);
  CHECK(a["perplexity"].get<double>() == doctest::Approx(b["perplexity"].get<double>()).epsilon(1e-4));
  expectError(runSlmc("eval " + stories260K() + tokens + " --stride 32"), "drop --stride 32");
}

TEST_CASE("cli: the front runs run and bench itself and hands the rest to slmc-full, or says it is missing") {
  ScratchDir dir("cli-front");
  REQUIRE(runSlmc("-q export " + stories260K() + " --format pack -o " + (dir / "m.slmc")).exit_code == 0);
  const auto run = runSlmc("--threads 1 run " + (dir / "m.slmc") + " --prompt-ids 1 -n 4 --temperature 0");
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const auto help = runSlmc("--help");
  CHECK(help.exit_code == 0);
  for (const char* command : {"quantize", "distill", "export", "run", "bench"})
    CHECK_MESSAGE(help.out.find(command) != std::string::npos, command);
  CHECK(runSlmc("--version").out == std::string("slmc ") + slmc::kVersion + "\n");
  // The front alone, without slmc-full beside it: runtime commands still work, the others say why not.
  const std::string alone = dir / "alone";
  std::filesystem::create_directories(alone);
  std::filesystem::copy_file(SLMC_BINARY, alone + "/slmc");
  const std::string front = alone + "/slmc";
  CHECK(std::system((front + " --threads 1 run " + (dir / "m.slmc") + " --prompt-ids 1 -n 2 --temperature 0 >/dev/null 2>&1").c_str()) == 0);
  const std::string err = dir / "alone.err";
  const int status = std::system((front + " inspect " + stories260K() + " 2>" + err).c_str());
  expectError({WEXITSTATUS(status), "", readFile(err)}, "slmc-full must sit next to slmc");
}

TEST_CASE("cli: bad input gives one error line, exit code 1, and no artifact") {
  ScratchDir dir("cli-bad");
  expectError(runSlmc("inspect " + (dir / "nope")), "does not exist");
  writeFile(dir / "junk.bin", std::string(100, 'x'));
  expectError(runSlmc("inspect " + (dir / "junk.bin")), "not a model slmc can read");
  writeFile(dir / "ids.txt", "1\n2\n999\n");
  expectError(runSlmc("eval " + stories260K() + " --tokens " + (dir / "ids.txt") + " --ctx 8 --json " + (dir / "r.json")),
              "token id 999 is outside the vocabulary");
  CHECK_FALSE(std::filesystem::exists(dir / "r.json"));
  writeFile(dir / "ids2.txt", "1\n2\n3\n");
  expectError(runSlmc("eval " + stories260K() + " --tokens " + (dir / "ids2.txt") + " --ctx 600"),
              "exceeds the model's context of 512");
  expectError(runSlmc("export " + (dir / "junk.bin") + " -o " + (dir / "out")), "not a model slmc can read");
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
}

TEST_CASE("cli: export writes a Hugging Face directory that loads back") {
  ScratchDir dir("cli-export");
  const auto r = runSlmc("export " + stories260K() + " --format hf -o " + (dir / "hf"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(std::filesystem::exists(dir / "hf/config.json"));
  CHECK(std::filesystem::exists(dir / "hf/model.safetensors"));
  const auto inspect = runSlmc("inspect --json " + (dir / "hf"));
  REQUIRE(inspect.exit_code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["total_params"] == 260032);
}
