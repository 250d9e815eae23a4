// Tokenizer inputs a user can get wrong: each is rejected with one line that names the problem.
#include <doctest/doctest.h>

#include <filesystem>

#include "datasets/llama2c_tokenizer.h"
#include "datasets/tokenizer.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("tokenizer bad input: invalid UTF-8 names the byte offset") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ab\xFF" "cd", "byte offset 2"},          // not a lead byte
      {"hello \xE4\xB8", "byte offset 6"},       // truncated sequence at the end
      {"x\xC0\xAF", "byte offset 1"},            // overlong '/'
      {"ok \xED\xA0\x80", "byte offset 3"},      // UTF-16 surrogate
      {"\xE6\x97\xA5 \x80", "byte offset 4"},    // stray continuation byte
  };
  for (const std::string& path : {llama2TokenizerBin(), fixture("tokenizers/llama2/tokenizer.json"),
                                  fixture("tokenizers/bytelevel/tokenizer.json")}) {
    const auto tok = loadTokenizer(path);
    for (const auto& [text, expected] : bad) checkError(errorOf([&] { tok->encode(text, true); }), expected);
  }
}

TEST_CASE("tokenizer bad input: corrupt or unsupported tokenizer files") {
  ScratchDir dir("tok-bad");
  const std::string real = readFile(llama2TokenizerBin());
  REQUIRE(real.size() > 1000);
  const auto load = [&](const std::string& name, const std::string& bytes) {
    writeFile(dir / name, bytes);
    return errorOf([&] { loadTokenizer(dir / name); });
  };
  checkError(load("short.bin", real.substr(0, 2)), "truncated");
  checkError(load("mid.bin", real.substr(0, 1001)), "truncated at byte offset");
  checkError(load("zero.bin", std::string(8, '\0')), "max_token_length 0");
  // Cut on a token boundary: only the model's vocab_size can tell.
  writeFile(dir / "boundary.bin", real.substr(0, real.size() - (8 + 3)));  // the last piece is 3 bytes
  checkError(errorOf([&] { Llama2cTokenizer::load(dir / "boundary.bin", 32000); }), "vocab_size is 32000");
  CHECK(Llama2cTokenizer::load(llama2TokenizerBin(), 32000)->vocabSize() == 32000);

  checkError(load("notjson.json", "{\"model\": [1, 2"), "is not valid JSON");
  checkError(load("wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})"), "WordPiece model");
  checkError(load("unigram.json", R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})"), "Unigram model");
  checkError(load("wordlevel.json", R"({"model": {"type": "WordLevel", "vocab": {}}})"), "supported: BPE");
  checkError(load("bert.json", R"({"normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
             "BertNormalizer normalizer");
  checkError(load("badmerge.json", R"({"pre_tokenizer": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})"),
             "missing from the vocabulary");
  checkError(load("types.json", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})"), "gives token 'a' a value that is not an integer");
  checkError(errorOf([&] { loadTokenizer(dir / "missing.json"); }), "does not exist");
  std::filesystem::create_directories(dir / "empty-model");
  writeFile(dir / "empty-model/tokenizer.model", "x");
  checkError(errorOf([&] { loadTokenizer(dir / "empty-model"); }), "holds no tokenizer.json or tokenizer.bin");
  checkError(errorOf([&] { loadTokenizer(dir / "empty-model/tokenizer.model"); }), "SentencePiece protobuf");
}

TEST_CASE("tokenizer bad input: out-of-range ids in decode") {
  const auto tok = loadTokenizer(llama2TokenizerBin());
  checkError(errorOf([&] { tok->decode({5, 32000}); }), "token id 32000");
  checkError(errorOf([&] { tok->decode({-1}); }), "token id -1");
}
