#include <doctest/doctest.h>

#include <filesystem>

#include "datasets/sample_builder.h"
#include "datasets/text_source.h"
#include "datasets/token_dataset_h5.h"
#include "datasets/token_file.h"
#include "datasets/tokenizer.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/model/random_model.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// A one-layer Llama with the llama2 tokenizer's 32000-token vocabulary and fixed pseudo-random
// weights: small enough to write in a test, big enough to take every llama2 token id.
void writeTinyLlama32k(const std::string& dir) {
  ModelConfig c;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 32000;
  c.max_position_embeddings = 128;
  c.tie_word_embeddings = true;
  saveHfDirectory(randomModel(c, 7), dir);
}
}  // namespace

TEST_CASE("cli dataset: build on wikitext-2 valid with the llama2.c tokenizer") {
  ScratchDir dir("cli-dataset-wikitext");
  const std::string tok = llama2TokenizerBin(), valid = wikitext("valid");
  const std::string args = "dataset build --tokenizer " + tok + " --input " + valid + " --seq-len 256 --samples 32";
  const auto r = runSlmc(args + " --seed 7 -o " + (dir / "d.h5") + " --json " + (dir / "r.json"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("32 samples x 256 tokens") != std::string::npos);

  const TokenDataset d = readTokenDatasetH5(dir / "d.h5");
  CHECK(d.num_samples == 32);
  CHECK(d.seq_len == 256);
  const auto& p = d.provenance;
  CHECK(p["schema"] == "slmc-token-dataset");
  REQUIRE(p["sources"].size() == 1);
  CHECK(p["sources"][0]["sha256"] == "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8");
  CHECK(p["sources"][0]["bytes"] == 1121681);
  CHECK(p["sources"][0]["format"] == "paragraphs");
  CHECK(p["tokenizer"]["kind"] == "llama2c");
  CHECK(p["tokenizer"]["vocab_size"] == 32000);
  CHECK(p["seed"] == 7);
  CHECK(p["seq_len"] == 256);
  CHECK(p["boundary_policy"].get<std::string>().rfind("BOS prepended to each document", 0) == 0);
  const auto report = readJson(dir / "r.json");
  CHECK(report["num_samples"] == 32);
  CHECK(report["provenance"] == p);

  // The rows are the chosen stream chunks: rebuild the stream with the library and compare.
  const auto tokenizer = loadTokenizer(tok);
  DocumentReader reader({valid}, TextSourceOptions{});
  SampleStream stream(reader, *tokenizer, 256);
  std::vector<std::vector<int32_t>> all;
  std::vector<int32_t> sample;
  while (stream.next(sample)) all.push_back(sample);
  CHECK(p["candidate_samples"] == all.size());
  CHECK(all.size() > 500);  // ~1.1 MB of text, ~4 bytes per token
  CHECK(all[0][0] == 1);    // the stream starts with BOS
  const auto indices = p["sample_stream_indices"].get<std::vector<int64_t>>();
  REQUIRE(indices.size() == 32);
  for (size_t row = 0; row < 32; ++row) {
    const std::vector<int32_t> got(d.input_ids.begin() + static_cast<std::ptrdiff_t>(row * 256),
                                   d.input_ids.begin() + static_cast<std::ptrdiff_t>((row + 1) * 256));
    CHECK(got == all[static_cast<size_t>(indices[row])]);
  }

  // Same seed: byte-identical file. Another seed: other samples.
  REQUIRE(runSlmc(args + " --seed 7 -o " + (dir / "same.h5")).exit_code == 0);
  CHECK(readFile(dir / "same.h5") == readFile(dir / "d.h5"));
  REQUIRE(runSlmc(args + " --seed 8 -o " + (dir / "other.h5")).exit_code == 0);
  CHECK(readTokenDatasetH5(dir / "other.h5").provenance["sample_stream_indices"] != p["sample_stream_indices"]);
}

TEST_CASE("cli dataset: a directory of .txt and .jsonl, every sample kept") {
  ScratchDir dir("cli-dataset-dir");
  std::filesystem::create_directories(dir / "corpus/sub");
  writeFile(dir / "corpus/b.txt", "Once upon a time there was a cat.\n\nThe cat sat on the mat.\n");
  writeFile(dir / "corpus/sub/a.jsonl",
            "{\"text\": \"Hello world, this is a story.\"}\n{\"text\": \"Another one.\"}\n");
  const auto r = runSlmc("dataset build --tokenizer " + llama2TokenizerBin() + " --input " + (dir / "corpus") +
                         " --seq-len 8 -o " + (dir / "d.h5"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const TokenDataset d = readTokenDatasetH5(dir / "d.h5");
  const auto& sources = d.provenance["sources"];
  REQUIRE(sources.size() == 2);
  CHECK(sources[0]["path"] == dir / "corpus/b.txt");
  CHECK(sources[1]["path"] == dir / "corpus/sub/a.jsonl");
  CHECK(sources[1]["format"] == "jsonl");
  CHECK(d.provenance["documents"] == 4);
  // Every sample kept, so the rows are the stream: the tokens minus the dropped tail.
  CHECK(d.num_samples == d.provenance["candidate_samples"]);
  CHECK(d.num_samples * 8 + d.provenance["dropped_tail_tokens"].get<int64_t>() == d.provenance["tokens"]);
  CHECK(d.input_ids[0] == 1);
}

TEST_CASE("cli dataset: bad input gives one error line, exit code 1, and no output") {
  ScratchDir dir("cli-dataset-bad");
  const std::string build = "dataset build --tokenizer " + llama2TokenizerBin() + " --seq-len 16 ";
  const std::string out = " -o " + (dir / "out.h5") + " --json " + (dir / "r.json");
  const auto nothingLeft = [&] {
    CHECK_FALSE(std::filesystem::exists(dir / "out.h5"));
    CHECK_FALSE(std::filesystem::exists(dir / "r.json"));
  };
  writeFile(dir / "latin1.txt", "fine text\n\ncaf\xe9 au lait\n");
  expectError(runSlmc(build + "--input " + (dir / "latin1.txt") + out), "latin1.txt: document starting at line 3");
  nothingLeft();
  writeFile(dir / "empty.txt", "");
  expectError(runSlmc(build + "--input " + (dir / "empty.txt") + out), "empty.txt: empty file");
  nothingLeft();
  writeFile(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  expectError(runSlmc(build + "--input " + (dir / "bad.jsonl") + out), "bad.jsonl:2: not valid JSON");
  nothingLeft();
  writeFile(dir / "field.jsonl", "{\"content\": \"ok\"}\n");
  expectError(runSlmc(build + "--input " + (dir / "field.jsonl") + out), "field.jsonl:1: no string field \"text\"");
  nothingLeft();
  writeFile(dir / "short.txt", "A few words only.\n");
  // "A few words only." is 6 llama2 ids with BOS: one sample of 4.
  expectError(runSlmc("dataset build --tokenizer " + llama2TokenizerBin() + " --seq-len 4 --input " + (dir / "short.txt") +
                      " --samples 5" + out),
              "--samples 5 is more than the data provides: 1 samples of 4 tokens (6 tokens in all)");
  expectError(runSlmc(build + "--input " + (dir / "short.txt") + " --samples 1" + out), "fewer than one sample");
  nothingLeft();
  expectError(runSlmc(build + "--input " + (dir / "nope.txt") + out), "nope.txt' does not exist");
  expectError(runSlmc(build + "--input " + (dir / "short.txt") + " -o " + (dir / "missing/out.h5")),
              "missing' does not exist (create it first)");
  CHECK_FALSE(std::filesystem::exists(dir / "missing"));
  nothingLeft();
  // Usage errors: exit code 2.
  CHECK(runSlmc("dataset").exit_code == 2);
  CHECK(runSlmc("dataset build --tokenizer x --input y -o z.h5").exit_code == 2);  // --seq-len is required
  CHECK(runSlmc(build + "--input " + (dir / "short.txt") + " --format csv" + out).exit_code == 2);
}

TEST_CASE("cli eval --data: an .h5 dataset scores the concatenated rows like --tokens") {
  ScratchDir dir("cli-eval-h5");
  const std::vector<int32_t> ids = readTokenFile(fixture("reference/stories260K_sample.txt"));
  REQUIRE(ids.size() == 256);
  TokenDataset rows;  // the sample as 4 rows of 64: concatenated back into the same stream
  rows.num_samples = 4;
  rows.seq_len = 64;
  rows.input_ids = ids;
  writeTokenDatasetH5(dir / "s.h5", rows);
  const auto r =
      runSlmc("eval " + stories260K() + " --data " + (dir / "s.h5") + " --ctx 256 --json " + (dir / "e.json"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto j = readJson(dir / "e.json");
  CHECK(j["tokens_scored"] == 255);
  CHECK(j["input"]["data_kind"] == "hdf5");
  const double golden = readJson(fixture("reference/stories260K_logits.json"))["sample_mean_nll"];
  CHECK(j["mean_nll"].get<double>() == doctest::Approx(golden).epsilon(1e-4));
}

TEST_CASE("cli eval --data: bad input and usage errors") {
  ScratchDir dir("cli-eval-data-bad");
  const std::string eval = "eval " + stories260K();
  TokenDataset big;  // provenance says the ids came from a 32000-token tokenizer
  big.num_samples = 1;
  big.seq_len = 8;
  big.input_ids = {1, 2, 3, 4, 5, 6, 7, 8};
  big.provenance = {{"tokenizer", {{"path", "llama2/tokenizer.bin"}, {"vocab_size", 32000}}}};
  writeTokenDatasetH5(dir / "big.h5", big);
  expectError(runSlmc(eval + " --data " + (dir / "big.h5") + " --ctx 8"),
              "has 32000 tokens but model '" + stories260K() + "' has a vocabulary of 512");
  expectError(runSlmc(eval + " --data " + (dir / "big.h5") + " --ctx 600 --json " + (dir / "r.json")),
              "exceeds the model's context of 512");
  CHECK_FALSE(std::filesystem::exists(dir / "r.json"));
  writeFile(dir / "t.txt", "Once upon a time.\n");
  expectError(runSlmc(eval + " --data " + (dir / "t.txt") + " --ctx 8"), "pass --tokenizer PATH");
  expectError(runSlmc(eval + " --data " + (dir / "t.txt") + " --tokenizer " + llama2TokenizerBin() + " --ctx 8"),
              "has 32000 tokens but model '" + stories260K() + "' has a vocabulary of 512");
  expectError(runSlmc(eval + " --data " + (dir / "missing.txt") + " --ctx 8"), "does not exist");
  CHECK(runSlmc(eval + " --ctx 8").exit_code == 2);  // neither --tokens nor --data
  CHECK(runSlmc(eval + " --data " + (dir / "t.txt") + " --tokens x.txt --ctx 8").exit_code == 2);  // both
}

TEST_CASE("cli eval --data: text and the .h5 built from it score the same stream") {
  ScratchDir dir("cli-eval-text");
  writeTinyLlama32k(dir / "tiny");
  const std::string tok = llama2TokenizerBin(), valid = wikitext("valid");
  // Evaluation stops reading the text once it has --max-tokens ids.
  const auto text = runSlmc("eval " + (dir / "tiny") + " --data " + valid + " --tokenizer " + tok +
                            " --ctx 32 --max-tokens 320 --json " + (dir / "text.json"));
  REQUIRE_MESSAGE(text.exit_code == 0, text.err);
  // Every sample of a build is a consecutive chunk of the same stream, so the .h5's first 320
  // ids are the text's first 320 ids.
  REQUIRE(runSlmc("dataset build --tokenizer " + tok + " --input " + valid + " --seq-len 32 -o " + (dir / "v.h5"))
              .exit_code == 0);
  const auto h5 = runSlmc("eval " + (dir / "tiny") + " --data " + (dir / "v.h5") +
                          " --ctx 32 --max-tokens 320 --json " + (dir / "h5.json"));
  REQUIRE_MESSAGE(h5.exit_code == 0, h5.err);
  const auto a = readJson(dir / "text.json"), b = readJson(dir / "h5.json");
  CHECK(a["tokens_scored"] == 310);  // 10 windows of 32, first token of each unscored
  CHECK(a["tokens_scored"] == b["tokens_scored"]);
  CHECK(a["mean_nll"].get<double>() == doctest::Approx(b["mean_nll"].get<double>()).epsilon(1e-9));
  CHECK(a["input"]["tokenizer_kind"] == "llama2c");
  // A model directory without tokenizer.json needs --tokenizer.
  expectError(runSlmc("eval " + (dir / "tiny") + " --data " + valid + " --ctx 32"), "has no tokenizer.json");
}
