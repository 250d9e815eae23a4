// tokenizer.json normalizers and pre-tokenizers against the `tokenizers` library: SmolLM2's real
// tokenizer.json, Llama-3-style and Qwen2-style pipelines, and one synthetic pipeline per
// normalizer / pre-tokenizer / split behavior over one small byte-level vocabulary
// (tests/fixtures/tokenizers/pipelines, written by scripts/make_tokenizer_fixtures.py
// --pipelines-only). Ids must equal the reference's and decode must give back the reference's text.
#include <doctest/doctest.h>

#include "datasets/hf_tokenizer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

const nlohmann::json& goldens() {
  static const nlohmann::json g = readJson(fixture("tokenizers/pipelines/goldens.json"));
  return g;
}

void checkCases(const HfBpeTokenizer& tok, const nlohmann::json& cases, const std::string& name) {
  const nlohmann::json& texts = goldens().at("texts");
  REQUIRE(cases.size() == texts.size());
  size_t matched = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i];
    const std::vector<int32_t> expected = cases[i].at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tok.encode(text, false);
    CHECK_MESSAGE(ids == expected, name << ": text '" << text << "'");
    matched += ids == expected;
    const std::string decoded = cases[i].contains("decoded") ? cases[i]["decoded"].get<std::string>() : text;
    CHECK_MESSAGE(tok.decode(ids) == decoded, name << ": decode of '" << text << "'");
  }
  MESSAGE(name << ": " << matched << "/" << texts.size() << " lines match tokenizers");
}

}  // namespace

TEST_CASE("tokenizer pipelines: SmolLM2's tokenizer.json (Digits + ByteLevel) encodes as tokenizers does") {
  const std::string path = realFile(modelsDir() + "/smollm2-135m-instruct/tokenizer.json", "SLMC_MODELS");
  const auto tok = HfBpeTokenizer::load(path);
  CHECK(tok->kind() == "hf-bpe-byte-level");
  checkCases(*tok, goldens().at("smollm2"), "smollm2");
}

TEST_CASE("tokenizer pipelines: every normalizer, pre-tokenizer and split behavior matches tokenizers") {
  const std::string base_text = readFile(fixture("tokenizers/pipelines/base.json"));
  const nlohmann::json& variants = goldens().at("variants");
  REQUIRE(variants.size() >= 15);
  for (const auto& [name, v] : variants.items()) {
    nlohmann::json j = nlohmann::json::parse(base_text);
    j["normalizer"] = v.at("normalizer");
    j["pre_tokenizer"] = v.at("pre_tokenizer");
    for (const auto& [key, value] : v.at("model").items()) j["model"][key] = value;
    const auto tok = HfBpeTokenizer::fromJson(j.dump(), "", "variant " + name);
    checkCases(*tok, v.at("cases"), name);
  }
}

TEST_CASE("tokenizer pipelines: fromJson reads tokenizer_config.json text and names its origin in errors") {
  const std::string base_text = readFile(fixture("tokenizers/pipelines/base.json"));
  const auto tok = HfBpeTokenizer::fromJson(base_text, R"({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
      "add_bos_token": true})", "in-memory");
  CHECK(tok->bosId() == tok->idOf("<|im_start|>"));
  CHECK(tok->eosId() == tok->idOf("<|im_end|>"));
  CHECK(tok->addsBosByDefault());
  checkError(errorOf([&] { HfBpeTokenizer::fromJson("{", "", "from-gguf"); }), "tokenizer.json 'from-gguf' is not valid JSON");
  nlohmann::json j = nlohmann::json::parse(base_text);
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }), "Digits pre-tokenizer after ByteLevel");
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }), "behavior 'Sideways'");
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }), "BertPreTokenizer pre-tokenizer");
}

// Numbers that nlohmann would convert with undefined behaviour (a float or an out-of-range
// integer where an integer belongs; found by fuzz/tokenizer_json_fuzz) are refused by name.
TEST_CASE("tokenizer pipelines: non-integer or out-of-range ids and counts are errors, not undefined behaviour") {
  const nlohmann::json base = nlohmann::json::parse(readFile(fixture("tokenizers/pipelines/base.json")));
  nlohmann::json j = base;
  j["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", 8.88889e30}, {"stop", 0}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }),
             "gives the Strip decoder's start a value that is not an integer");
  j["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", 1} , {"stop", 0}};
  CHECK_NOTHROW(HfBpeTokenizer::fromJson(j.dump(), "", "x"));
  j = base;
  j["added_tokens"] = {{{"id", 1.5}, {"content", "<x>"}}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }),
             "gives added token '<x>' a value that is not an integer");
  j["added_tokens"] = {{{"id", uint64_t{1} << 63}, {"content", "<x>"}}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }), "outside 0..268435456");
  // An id far beyond the entries the file lists would size the table in gigabytes (fuzz: OOM).
  j = base;
  j["added_tokens"] = {{{"id", 200000000}, {"content", "<x>"}}};
  checkError(errorOf([&] { HfBpeTokenizer::fromJson(j.dump(), "", "x"); }),
             "gives token '<x>' the id 200000000, outside 0..");
}
