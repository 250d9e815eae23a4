// gguf::hfTokenizerFiles on small synthetic vocabularies: the JSON it writes, and that slmc's own
// tokenizer.json reader encodes with it. (The check on the real SmolLM2 GGUF runs with the GGUF
// reader's glue; by hand it matched /work/shared/models/smollm2-135m-instruct/tokenizer.json.)
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "datasets/byte_level.h"
#include "datasets/hf_tokenizer.h"
#include "lib/format/gguf/gguf_tokenizer.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::gguf;
using nlohmann::json;

namespace {

// 256 byte pieces (id = byte value), merges up to "hello" and "Ġw", a control and a user token.
GgufTokenizerMetadata byteLevelVocabulary(const std::string& pre) {
  GgufTokenizerMetadata m;
  m.model = "gpt2";
  m.pre = pre;
  for (int b = 0; b < 256; ++b) m.tokens.push_back(bytePiece(static_cast<unsigned char>(b)));
  for (const char* t : {"he", "ll", "hell", "hello", "\xC4\xA0w", "<|endoftext|>", "<tool>"}) m.tokens.push_back(t);
  m.token_types.assign(m.tokens.size(), kTokenNormal);
  m.token_types[261] = kTokenControl;
  m.token_types[262] = kTokenUserDefined;
  m.merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w"};
  m.bos_id = m.eos_id = 261;
  m.chat_template = "{{ messages[0]['content'] }}";
  return m;
}

// <unk> <s> </s>, the 256 byte pieces, then ▁ a b ab ▁ab with SentencePiece scores.
GgufTokenizerMetadata sentencePieceVocabulary() {
  GgufTokenizerMetadata m;
  m.model = "llama";
  m.tokens = {"<unk>", "<s>", "</s>"};
  m.token_types = {kTokenUnknown, kTokenControl, kTokenControl};
  m.scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m.tokens.push_back(name);
    m.token_types.push_back(kTokenByte);
    m.scores.push_back(0);
  }
  const std::pair<const char*, float> pieces[] = {
      {"\xE2\x96\x81", -1}, {"a", -2}, {"b", -3}, {"ab", -4}, {"\xE2\x96\x81" "a", -5}, {"\xE2\x96\x81" "ab", -6}};
  for (const auto& [piece, score] : pieces) {
    m.tokens.push_back(piece);
    m.token_types.push_back(kTokenNormal);
    m.scores.push_back(score);
  }
  m.bos_id = 1;
  m.eos_id = 2;
  m.unk_id = 0;
  return m;
}

json tokenizerJson(const GgufTokenizerMetadata& m) { return json::parse(hfTokenizerFiles(m, "t.gguf").tokenizer_json); }

std::unique_ptr<HfBpeTokenizer> writeAndLoad(const GgufTokenizerMetadata& m, const test::ScratchDir& dir) {
  const HfTokenizerFiles files = hfTokenizerFiles(m, "t.gguf");
  test::writeFile(dir / "tokenizer.json", files.tokenizer_json);
  test::writeFile(dir / "tokenizer_config.json", files.tokenizer_config_json);
  return HfBpeTokenizer::load(dir / "tokenizer.json");
}

}  // namespace

TEST_CASE("gguf tokenizer: gpt-2 vocabulary as byte-level tokenizer.json that encodes as llama.cpp does") {
  const GgufTokenizerMetadata m = byteLevelVocabulary("gpt-2");
  const json t = tokenizerJson(m);
  CHECK(t["model"]["type"] == "BPE");
  CHECK(t["model"]["vocab"].size() == 263);
  CHECK(t["model"]["vocab"]["hello"] == 259);
  CHECK(t["model"]["merges"] == json({"h e", "l l", "he ll", "hell o", "\xC4\xA0 w"}));
  CHECK(t["pre_tokenizer"] == json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                    {"use_regex", true}}));
  CHECK(t["decoder"]["type"] == "ByteLevel");
  CHECK(t["post_processor"]["type"] == "ByteLevel");  // add_bos unset: llama.cpp adds none for GPT-2
  REQUIRE(t["added_tokens"].size() == 2);
  CHECK(t["added_tokens"][0]["content"] == "<|endoftext|>");
  CHECK(t["added_tokens"][0]["special"] == true);
  CHECK(t["added_tokens"][1]["content"] == "<tool>");
  CHECK(t["added_tokens"][1]["special"] == false);
  const json config = json::parse(hfTokenizerFiles(m, "t.gguf").tokenizer_config_json);
  CHECK(config["eos_token"] == "<|endoftext|>");
  CHECK(config["add_bos_token"] == false);
  CHECK(config["chat_template"] == "{{ messages[0]['content'] }}");

  test::ScratchDir dir("gguf-tok-gpt2");
  const auto tok = writeAndLoad(m, dir);
  CHECK(tok->encode("hello world", false) == std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'});
  CHECK(tok->encode("hi<|endoftext|>", false) == std::vector<int32_t>{'h', 'i', 261});
  CHECK(tok->encode("a<tool>b", false) == std::vector<int32_t>{'a', 262, 'b'});
  CHECK(tok->eosId() == 261);
  CHECK(tok->decode(tok->encode("hello world", false)) == "hello world");
}

TEST_CASE("gguf tokenizer: llama.cpp's default split (punctuation, GPT-2, digit runs, threes) loads and encodes") {
  const json t = tokenizerJson(byteLevelVocabulary("default"));
  const json& steps = t["pre_tokenizer"]["pretokenizers"];
  REQUIRE(steps.size() == 5);
  CHECK(steps[0]["pattern"]["Regex"] == R"([\p{P}\$\+<=>\^~\|]+)");
  CHECK(steps[3]["pattern"]["Regex"] == "[0-9][0-9][0-9]");
  CHECK(steps[4] == json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                          {"use_regex", false}}));
  CHECK(tokenizerJson(byteLevelVocabulary(""))["pre_tokenizer"] == t["pre_tokenizer"]);  // no pre key: default
  test::ScratchDir dir("gguf-tok-default");
  const auto tok = writeAndLoad(byteLevelVocabulary("default"), dir);
  CHECK(tok->encode("hello world", false) == std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'});
}

TEST_CASE("gguf tokenizer: smollm, llama-bpe and qwen2 pre-tokenizers in tokenizer.json terms") {
  const json smollm = tokenizerJson(byteLevelVocabulary("smollm"))["pre_tokenizer"];
  CHECK(smollm == json({{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Digits"}, {"individual_digits", true}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}}}}));

  const json llama3 = tokenizerJson(byteLevelVocabulary("llama-bpe"));
  const json& split = llama3["pre_tokenizer"]["pretokenizers"][0];
  CHECK(split["type"] == "Split");
  CHECK(split["behavior"] == "Isolated");
  CHECK(split["pattern"]["Regex"].get<std::string>().find(R"(\p{N}{1,3})") != std::string::npos);
  CHECK(llama3["pre_tokenizer"]["pretokenizers"][1]["use_regex"] == false);
  CHECK(llama3["model"]["ignore_merges"] == true);
  // Llama 3 adds BOS unless the GGUF says otherwise.
  const json& post = llama3["post_processor"]["processors"][1];
  CHECK(post["type"] == "TemplateProcessing");
  CHECK(post["single"][0]["SpecialToken"]["id"] == "<|endoftext|>");
  CHECK(post["special_tokens"]["<|endoftext|>"]["ids"] == json({261}));
  GgufTokenizerMetadata no_bos = byteLevelVocabulary("llama-bpe");
  no_bos.add_bos = false;
  CHECK(tokenizerJson(no_bos)["post_processor"]["type"] == "ByteLevel");

  const json qwen2 = tokenizerJson(byteLevelVocabulary("qwen2"))["pre_tokenizer"]["pretokenizers"];
  const std::string regex = qwen2[0]["pattern"]["Regex"];
  CHECK(regex.find(R"(|\p{N}|)") != std::string::npos);
  CHECK(regex.find("{1,3}") == std::string::npos);
  CHECK(tokenizerJson(byteLevelVocabulary("qwen2"))["model"]["ignore_merges"] == false);

  // Names llama.cpp maps to the same split.
  CHECK(tokenizerJson(byteLevelVocabulary("starcoder"))["pre_tokenizer"] == smollm);
}

TEST_CASE("gguf tokenizer: SentencePiece vocabulary with scores as merge order, byte fallback and BOS") {
  const GgufTokenizerMetadata m = sentencePieceVocabulary();
  const json t = tokenizerJson(m);
  CHECK(t["model"]["byte_fallback"] == true);
  CHECK(t["model"]["unk_token"] == "<unk>");
  CHECK(t["normalizer"]["normalizers"][0] == json({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}}));
  CHECK(t["normalizer"]["normalizers"][1]["type"] == "Replace");
  CHECK(t["pre_tokenizer"].is_null());
  // Every split into two pieces, higher-scoring merged pieces first: ab (-4), ▁a (-5), then ▁ab (-6)
  // two ways, the longer left half first (as transformers orders them; on Llama 2's 32,000 pieces
  // the 61,249 merges came out identical to transformers' LlamaTokenizerFast conversion).
  CHECK(t["model"]["merges"] == json::parse(R"([["a", "b"], ["▁", "a"], ["▁a", "b"], ["▁", "ab"]])"));
  CHECK(t["post_processor"]["single"][0]["SpecialToken"]["id"] == "<s>");  // SentencePiece: BOS by default
  REQUIRE(t["added_tokens"].size() == 3);
  CHECK(t["added_tokens"][0]["content"] == "<unk>");
  CHECK(t["decoder"]["decoders"][3] == json({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}));

  test::ScratchDir dir("gguf-tok-spm");
  const auto tok = writeAndLoad(m, dir);
  const int32_t space = 259, a = 260, space_ab = 264;
  CHECK(tok->addsBosByDefault());
  CHECK(tok->bosId() == 1);
  CHECK(tok->encode("ab ab", true) == std::vector<int32_t>{1, space_ab, space_ab});
  CHECK(tok->encode("a", false) == std::vector<int32_t>{space + 4});  // ▁a
  CHECK(tok->encode("ba", false) == std::vector<int32_t>{space, 261, a});
  CHECK(tok->encode("c", false) == std::vector<int32_t>{space, 3 + 'c'});  // byte fallback <0x63>
  CHECK(tok->decode(tok->encode("ab ab", true)) == "ab ab");
}

TEST_CASE("gguf tokenizer: unknown pre or model type, and inconsistent metadata, are one clear error") {
  CHECK_THROWS_WITH_AS(hfTokenizerFiles(byteLevelVocabulary("chatglm-bpe"), "m.gguf"),
                       doctest::Contains("GGUF 'm.gguf' has tokenizer.ggml.pre 'chatglm-bpe'"), Error);
  GgufTokenizerMetadata bert = byteLevelVocabulary("gpt-2");
  bert.model = "bert";
  CHECK_THROWS_WITH_AS(hfTokenizerFiles(bert, "m.gguf"), doctest::Contains("tokenizer.ggml.model 'bert'"), Error);
  GgufTokenizerMetadata short_types = byteLevelVocabulary("gpt-2");
  short_types.token_types.pop_back();
  CHECK_THROWS_WITH_AS(hfTokenizerFiles(short_types, "m.gguf"), doctest::Contains("token_type entries"), Error);
  GgufTokenizerMetadata bad_eos = byteLevelVocabulary("gpt-2");
  bad_eos.eos_id = 1000;
  CHECK_THROWS_WITH_AS(hfTokenizerFiles(bad_eos, "m.gguf"), doctest::Contains("as its eos token"), Error);
  GgufTokenizerMetadata no_scores = sentencePieceVocabulary();
  no_scores.scores.clear();
  CHECK_THROWS_WITH_AS(hfTokenizerFiles(no_scores, "m.gguf"), doctest::Contains("tokenizer.ggml.scores"), Error);
}
