// slmc tokenize end to end: llama-tokenize's output shapes, --decode, --no-special, bad input.
#include <doctest/doctest.h>

#include "datasets/tokenizer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
std::string smollm2() { return realFile(modelsDir() + "/smollm2-135m-instruct", "SLMC_MODELS"); }

std::string idList(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}
}  // namespace

TEST_CASE("cli tokenize: ids, pieces and decode of SmolLM2's tokenizer") {
  const auto tok = loadTokenizer(smollm2());
  const std::string text = "Hello world 2024";
  const std::vector<int32_t> ids = tok->encode(text, false);
  REQUIRE(ids.size() > 3);

  const CommandResult as_ids = runSlmc("tokenize " + smollm2() + " --text '" + text + "' --ids");
  CHECK(as_ids.exit_code == 0);
  CHECK(as_ids.out == "[" + idList(ids, ", ") + "]\n");

  const CommandResult lines = runSlmc("tokenize " + smollm2() + " --text '" + text + "'");
  CHECK(lines.exit_code == 0);
  CHECK(countLines(lines.out) == ids.size());
  CHECK(lines.out.find(std::to_string(ids[0]) + " -> 'Hello'\n") == 0);
  CHECK(lines.out.find(" -> ' world'\n") != std::string::npos);

  const CommandResult pieces = runSlmc("tokenize " + smollm2() + " --text '" + text + "' --pieces");
  CHECK(pieces.out == "Hello\n world\n \n2\n0\n2\n4\n");

  const CommandResult back = runSlmc("tokenize " + smollm2() + " --decode " + idList(ids, ","));
  CHECK(back.exit_code == 0);
  CHECK(back.out == text + "\n");

  ScratchDir dir("cli-tokenize");
  writeFile(dir / "in.txt", text);
  CHECK(runSlmc("tokenize " + smollm2() + "/tokenizer.json --file " + dir / "in.txt" + " --ids").out == as_ids.out);
}

TEST_CASE("cli tokenize: --no-special encodes special tokens written in the text as plain text") {
  const auto tok = loadTokenizer(smollm2());
  const CommandResult special = runSlmc("tokenize " + smollm2() + " --text '<|im_start|>hi' --ids");
  const CommandResult plain = runSlmc("tokenize " + smollm2() + " --text '<|im_start|>hi' --ids --no-special");
  CHECK(special.exit_code == 0);
  CHECK(plain.exit_code == 0);
  CHECK(special.out.find(std::to_string(tok->encode("<|im_start|>", false).at(0))) == 1);
  CHECK(countLines(special.out) == 1);
  CHECK(plain.out.size() > special.out.size());
  const CommandResult shown = runSlmc("tokenize " + smollm2() + " --text '<|im_start|>hi'");
  CHECK(shown.out.find(" -> '<|im_start|>'\n") != std::string::npos);
}

TEST_CASE("cli tokenize: bad input names the problem") {
  ScratchDir dir("cli-tokenize-bad");
  expectError(runSlmc("tokenize " + dir / "missing.json --text hi"), "does not exist");
  const CommandResult both = runSlmc("tokenize " + smollm2() + " --text hi --file " + dir / "x.txt");
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("excludes") != std::string::npos);
  const CommandResult none = runSlmc("tokenize " + smollm2());
  CHECK(none.exit_code == 2);
  expectError(runSlmc("tokenize " + smollm2() + " --decode 1,x,3"), "'x' is not a token id");
  expectError(runSlmc("tokenize " + smollm2() + " --decode 1,-2"), "'-2' is not a token id");
  expectError(runSlmc("tokenize " + smollm2() + " --decode 99999999"), "cannot decode token id 99999999");
  expectError(runSlmc("tokenize " + smollm2() + " --file " + dir / "nofile.txt"), "cannot be read");
}
