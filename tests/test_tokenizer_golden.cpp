// Tokenizers against the reference libraries: every corpus line of
// tests/fixtures/tokenizers/goldens.json (scripts/make_tokenizer_fixtures.py) must encode to the
// reference ids exactly, and decode back to the line.
#include <doctest/doctest.h>

#include <filesystem>

#include "datasets/tokenizer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> goldens(const std::string& reference) {
  const nlohmann::json g = readJson(fixture("tokenizers/goldens.json"));
  std::vector<Case> cases;
  for (const auto& c : g.at("cases")) cases.push_back({c.at("text"), c.at(reference).get<std::vector<int32_t>>()});
  REQUIRE(cases.size() >= 50);
  return cases;
}

// Special tokens each tokenizer matches in the text (llama2.c matches none).
const std::vector<std::string> kLlamaSpecials = {"<s>", "</s>", "<unk>"};
const std::vector<std::string> kByteLevelSpecials = {"<|endoftext|>"};

bool hasSpecial(const std::string& text, const std::vector<std::string>& specials) {
  for (const std::string& s : specials)
    if (text.find(s) != std::string::npos) return true;
  return false;
}

// Text the tokenizer cannot give back: ▁ in the input is whitespace for SentencePiece-style
// tokenizers (it decodes to a space), and special tokens are skipped by decode.
std::string expectedDecode(const std::string& text, bool sentencepiece) {
  std::string out = text;
  if (sentencepiece)
    for (size_t at = out.find("\xE2\x96\x81"); at != std::string::npos; at = out.find("\xE2\x96\x81"))
      out.replace(at, 3, " ");
  return out;
}

void checkGoldens(const Tokenizer& tok, const std::vector<Case>& cases, bool sentencepiece,
                  const std::vector<std::string>& specials) {
  size_t matched = 0, round_trips = 0, checked_round_trips = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> ids = tok.encode(c.text, false);
    CHECK_MESSAGE(ids == c.ids, "text: '" << c.text << "'");
    matched += ids == c.ids;
    if (hasSpecial(c.text, specials)) continue;
    ++checked_round_trips;
    const std::string back = tok.decode(ids);
    CHECK_MESSAGE(back == expectedDecode(c.text, sentencepiece), "round trip of '" << c.text << "' gave '" << back << "'");
    round_trips += back == expectedDecode(c.text, sentencepiece);
  }
  MESSAGE(tok.kind() << ": " << matched << "/" << cases.size() << " lines match the reference, " << round_trips << "/"
                     << checked_round_trips << " round trips exact");
}
}  // namespace

TEST_CASE("tokenizer golden: llama2.c tokenizer.bin matches sentencepiece on tokenizer.model") {
  const auto tok = loadTokenizer(llama2TokenizerBin());
  CHECK(tok->kind() == "llama2c");
  CHECK(tok->vocabSize() == 32000);
  checkGoldens(*tok, goldens("sentencepiece"), true, {});
}

TEST_CASE("tokenizer golden: Llama 2 tokenizer.json matches Hugging Face tokenizers") {
  const auto tok = loadTokenizer(fixture("tokenizers/llama2/tokenizer.json"));
  CHECK(tok->kind() == "hf-bpe-sentencepiece");
  CHECK(tok->vocabSize() == 32000);
  checkGoldens(*tok, goldens("hf_llama2"), true, kLlamaSpecials);
}

TEST_CASE("tokenizer golden: Llama 2 tokenizer.json matches sentencepiece where no special token is written") {
  const auto tok = loadTokenizer(fixture("tokenizers/llama2"));  // the directory form
  size_t n = 0;
  for (const Case& c : goldens("sentencepiece")) {
    if (hasSpecial(c.text, kLlamaSpecials)) continue;
    CHECK_MESSAGE(tok->encode(c.text, false) == c.ids, "text: '" << c.text << "'");
    ++n;
  }
  CHECK(n >= 40);
}

TEST_CASE("tokenizer golden: trained byte-level tokenizer.json matches Hugging Face tokenizers") {
  const auto tok = loadTokenizer(fixture("tokenizers/bytelevel/tokenizer.json"));
  CHECK(tok->kind() == "hf-bpe-byte-level");
  CHECK(tok->vocabSize() == 2000);
  checkGoldens(*tok, goldens("hf_bytelevel"), false, kByteLevelSpecials);
}
