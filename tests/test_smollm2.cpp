// SmolLM2-135M-Instruct as users have it: the published GGUF alone. Its tokenizer comes from the
// GGUF's own vocabulary and must give the ids of the rebuilt tokenizer.json beside it (checked
// against llama.cpp's tokenizer, SOURCE.md); its imported weights must give the perplexity
// SOURCE.md measured with transformers on the same dequantized weights (27.6134 on the first 8
// windows of 512 tokens of WikiText-2 test, every token but each window's first scored).
#include <doctest/doctest.h>

#include "datasets/hf_tokenizer.h"
#include "datasets/sample_builder.h"
#include "datasets/tokenizer.h"
#include "lib/format/checkpoint.h"
#include "lib/format/pack_writer.h"
#include "lib/reference/perplexity.h"
#include "lib/reference/reference_model.h"
#include "test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

std::string smollm2Dir() { return modelsDir() + "/smollm2-135m-instruct"; }
std::string smollm2Gguf() { return realFile(smollm2Dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf", "SLMC_MODELS"); }

}  // namespace

TEST_CASE("smollm2: the GGUF's own tokenizer gives the ids of its tokenizer.json on all of WikiText-2 test") {
  const std::unique_ptr<Tokenizer> from_gguf = loadTokenizer(smollm2Gguf());
  const std::unique_ptr<Tokenizer> from_json = loadTokenizer(smollm2Dir() + "/tokenizer.json");
  CHECK(from_gguf->vocabSize() == from_json->vocabSize());
  CHECK(from_gguf->bosId() == from_json->bosId());
  CHECK(from_gguf->eosId() == from_json->eosId());
  const std::string text = readFile(wikitext("test"));
  const std::vector<int32_t> a = from_gguf->encode(text, false);
  const std::vector<int32_t> b = from_json->encode(text, false);
  CHECK(a.size() == 312144);  // PyPI tokenizers on the same file
  CHECK(a == b);
  const std::string line = "Hello, world! 12345 <|im_start|>user\n한국어 café 👩‍💻";
  CHECK(from_gguf->encode(line, false) == from_json->encode(line, false));
  CHECK(from_gguf->decode(from_gguf->encode("plain text, 2024.", false)) == "plain text, 2024.");
}

TEST_CASE("smollm2: the imported GGUF's perplexity equals transformers' on the same weights") {
  const Model model = loadModel(smollm2Gguf());
  const std::unique_ptr<Tokenizer> tokenizer = loadTokenizer(smollm2Gguf());
  std::vector<int32_t> ids = tokenizer->encode(readFile(wikitext("test")), false);
  ids.resize(8 * 512);
  const ReferenceModel reference(model);
  PerplexityOptions o;
  o.ctx = 512;
  o.batch = 2;
  const PerplexityResult r = evaluatePerplexity(reference, ids, o);
  CHECK(r.tokens_scored == 4088);
  CHECK(r.mean_nll == doctest::Approx(3.31830).epsilon(2e-5));  // SOURCE.md: transformers 3.31830 (ppl 27.6134)
}

TEST_CASE("smollm2: packs and exports of the GGUF carry its tokenizer as tokenizer.json + tokenizer_config.json") {
  Model model;
  model.source = smollm2Gguf();  // tokenizerFilesFor reads only the source
  const std::vector<EmbeddedFile> files = tokenizerFilesFor(model);
  REQUIRE(files.size() == 2);
  CHECK(files[0].name == "tokenizer.json");
  CHECK(files[1].name == "tokenizer_config.json");
  CHECK(nlohmann::json::parse(files[1].bytes).value("chat_template", std::string()).find("<|im_start|>") !=
        std::string::npos);
  const auto carried = HfBpeTokenizer::fromJson(files[0].bytes, files[1].bytes, "carried");
  const std::unique_ptr<Tokenizer> from_json = loadTokenizer(smollm2Dir() + "/tokenizer.json");
  const std::string line = "Packed: 3.14 <|im_end|> naïve 日本語";
  CHECK(carried->encode(line, false) == from_json->encode(line, false));
}

// SmolLM2's tokenizer adds no BOS (add_bos_token false): datasets, eval --data and run --prompt
// encode text as it does, so documents end with EOS and never start with its BOS, and the
// whole test file read as one document gives the ids of the plain text (the perplexity protocol
// of SOURCE.md).
TEST_CASE("smollm2: documents are encoded as the tokenizer does by default (no BOS, EOS between documents)") {
  const std::unique_ptr<Tokenizer> tok = loadTokenizer(smollm2Gguf());
  CHECK_FALSE(tok->addsBosByDefault());
  const std::vector<int32_t> ids = encodeDocument(*tok, Document{"The cat sat.", "doc.txt", 1});
  REQUIRE(ids.size() >= 2);
  CHECK(ids.front() != tok->bosId());
  CHECK(ids.back() == tok->eosId());
  std::vector<int32_t> plain = tok->encode("The cat sat.", false);
  plain.push_back(tok->eosId());
  CHECK(ids == plain);
  CHECK(boundaryPolicyDescription(*tok).rfind("EOS appended to each document", 0) == 0);
  // Llama 2's SentencePiece tokenizer does add BOS.
  const std::unique_ptr<Tokenizer> llama = loadTokenizer(fixture("tokenizers/llama2/tokenizer.json"));
  CHECK(llama->addsBosByDefault());
  CHECK(encodeDocument(*llama, Document{"The cat sat.", "doc.txt", 1}).front() == llama->bosId());
}
