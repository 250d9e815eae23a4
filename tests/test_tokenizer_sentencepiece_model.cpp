// SentencePiece's tokenizer.model read directly: the Llama 2 model must give exactly the
// vocabulary of its llama2.c export and sentencepiece's ids on the golden corpus; broken or
// unsupported protobufs are refused with one line naming the problem.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "datasets/llama2c_tokenizer.h"
#include "datasets/sentencepiece_model.h"
#include "datasets/tokenizer.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
const std::string kMetaspace = "\xE2\x96\x81";  // ▁

std::string llama2TokenizerModel() {
  return realFile(modelsDir() + "/llama2-tokenizer/tokenizer.model", "SLMC_MODELS");
}

// Protobuf wire format, enough to hand-build small ModelProtos.
std::string varint(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
  return out + static_cast<char>(v);
}
std::string varintField(uint32_t field, int64_t v) { return varint(field << 3 | 0) + varint(static_cast<uint64_t>(v)); }
std::string bytesField(uint32_t field, const std::string& payload) {
  return varint(field << 3 | 2) + varint(payload.size()) + payload;
}
std::string floatField(uint32_t field, float f) {
  char b[4];
  std::memcpy(b, &f, 4);
  return varint(field << 3 | 5) + std::string(b, 4);
}

// A complete Llama-style BPE model: <unk>, <s>, </s>, 256 byte pieces, then ▁ a b ab ▁ab.
struct TinyModel {
  int64_t model_type = 2;  // BPE
  bool byte_fallback = true;
  int64_t bos_id = 1;
  std::string normalizer = "identity";
  bool add_dummy_prefix = true;
  int64_t last_piece_type = 1;  // NORMAL

  std::string bytes() const {
    std::string m;
    const auto piece = [&](const std::string& text, float score, int64_t type) {
      m += bytesField(1, bytesField(1, text) + floatField(2, score) + varintField(3, type));
    };
    piece("<unk>", 0, 2);
    piece("<s>", 0, 3);
    piece("</s>", 0, 3);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      piece(name, 0, 6);
    }
    piece(kMetaspace, -1000, 1);
    piece("a", -1000, 1);
    piece("b", -1000, 1);
    piece("ab", -1, 1);
    piece(kMetaspace + "ab", -2, last_piece_type);
    m += bytesField(2, varintField(3, model_type) + varintField(35, byte_fallback) + varintField(40, 0) +
                           varintField(41, bos_id) + varintField(42, 2) + varintField(43, -1));
    m += bytesField(
        3, bytesField(1, normalizer) + bytesField(2, "") + varintField(3, add_dummy_prefix) + varintField(4, 0));
    return m;
  }
};
}  // namespace

TEST_CASE("sentencepiece model: Llama 2 tokenizer.model has tokenizer.bin's vocabulary, piece by piece") {
  const auto model = loadTokenizer(llama2TokenizerModel());
  CHECK(model->kind() == "sentencepiece-bpe");
  REQUIRE(model->vocabSize() == 32000);
  CHECK(model->bosId() == 1);
  CHECK(model->eosId() == 2);
  const auto& spm = dynamic_cast<const Llama2cTokenizer&>(*model);
  const auto bin = Llama2cTokenizer::load(llama2TokenizerBin(), 32000);
  size_t same = 0;
  for (int32_t id = 0; id < 32000; ++id) {
    const bool equal = spm.piece(id) == bin->piece(id) && spm.score(id) == bin->score(id);
    CHECK_MESSAGE(equal, "id " << id << ": '" << spm.piece(id) << "' " << spm.score(id) << " vs '" << bin->piece(id)
                               << "' " << bin->score(id));
    same += equal;
  }
  CHECK(same == 32000);
  MESSAGE("tokenizer.model vs tokenizer.bin: " << same << "/32000 pieces and scores equal");
}

TEST_CASE("sentencepiece model: Llama 2 tokenizer.model encodes the golden corpus as sentencepiece does") {
  const auto tok = loadTokenizer(llama2TokenizerModel());
  const nlohmann::json g = readJson(fixture("tokenizers/goldens.json"));
  size_t lines = 0, matched = 0, round_trips = 0;
  for (const auto& c : g.at("cases")) {
    const std::string text = c.at("text");
    const auto expected = c.at("sentencepiece").get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tok->encode(text, false);
    CHECK_MESSAGE(ids == expected, "text: '" << text << "'");
    // ▁ in the input is whitespace to sentencepiece: it decodes to a space.
    std::string back = text;
    for (size_t at = back.find(kMetaspace); at != std::string::npos; at = back.find(kMetaspace))
      back.replace(at, 3, " ");
    CHECK_MESSAGE(tok->decode(ids) == back, "round trip of '" << text << "'");
    ++lines;
    matched += ids == expected;
    round_trips += tok->decode(ids) == back;
  }
  CHECK(lines >= 50);
  CHECK(matched == lines);
  MESSAGE("tokenizer.model: " << matched << "/" << lines << " golden lines match sentencepiece, " << round_trips
                              << " round trips exact");
  const std::vector<int32_t> with_bos = tok->encode("Hello world", true);
  REQUIRE(!with_bos.empty());
  CHECK(with_bos.front() == 1);
  CHECK(tok->decode(with_bos) == "Hello world");
}

TEST_CASE("sentencepiece model: a directory that holds only tokenizer.model loads it") {
  ScratchDir dir("spm-dir");
  std::filesystem::copy_file(llama2TokenizerModel(), dir / "tokenizer.model");
  const auto tok = loadTokenizer(dir.path());
  CHECK(tok->kind() == "sentencepiece-bpe");
  CHECK(tok->encode("The quick brown fox", false) ==
        loadTokenizer(llama2TokenizerBin())->encode("The quick brown fox", false));
  // tokenizer.bin beside it is preferred, as before.
  std::filesystem::copy_file(llama2TokenizerBin(), dir / "tokenizer.bin");
  CHECK(loadTokenizer(dir.path())->kind() == "llama2c");
}

TEST_CASE("sentencepiece model: a hand-built BPE model encodes with merges by score and byte fallback") {
  ScratchDir dir("spm-tiny");
  writeFile(dir / "tiny.model", TinyModel().bytes());
  const auto tok = loadTokenizer(dir / "tiny.model");
  CHECK(tok->vocabSize() == 264);
  // ▁ a b ▁ a b → ab merges first (score -1), then ▁ab (-2).
  CHECK(tok->encode("ab ab", false) == std::vector<int32_t>{263, 263});
  CHECK(tok->encode("c", true) == std::vector<int32_t>{1, 259, 3 + 'c'});
  CHECK(tok->decode({263, 263}) == "ab ab");
}

TEST_CASE("sentencepiece model: truncated, random and malformed protobufs name the byte offset") {
  ScratchDir dir("spm-bad");
  const std::string real = readFile(llama2TokenizerModel());
  REQUIRE(real.size() > 400000);
  const auto load = [&](const std::string& name, const std::string& bytes) {
    writeFile(dir / name, bytes);
    return errorOf([&] { loadTokenizer(dir / name); });
  };
  size_t cuts = 0;
  for (size_t cut : {size_t{1}, size_t{2}, size_t{7}, size_t{1000}, size_t{4096}, real.size() / 2, real.size() - 300,
                     real.size() - 20, real.size() - 1}) {
    const std::string err = load("cut" + std::to_string(cut) + ".model", real.substr(0, cut));
    checkError(err, "SentencePiece protobuf");
    checkError(err, "truncated");
    ++cuts;
  }
  CHECK(cuts == 9);
  checkError(load("empty.model", ""), "is empty");

  std::mt19937 rng(12345);
  for (int trial = 0; trial < 20; ++trial) {
    std::string noise(static_cast<size_t>(1 + trial * 97), '\0');
    for (char& c : noise) c = static_cast<char>(rng() & 0xFF);
    checkError(load("noise.model", noise), "SentencePiece");
  }

  // Field 15 (not a ModelProto field: skipped) as a varint.
  checkError(load("varint.model", "\x78"), "truncated at byte offset 1: a varint");
  checkError(load("long-varint.model", "\x78" + std::string(11, '\xFF')),
             "byte offset 1 holds a varint longer than 10 bytes");
  checkError(load("length.model", bytesField(1, "abc").substr(0, 4)), "truncated at byte offset 1: a field of 3 bytes");
  checkError(load("wire.model", varintField(1, 1)), "byte offset 0 holds ModelProto.pieces (field 1) as varint");
  checkError(load("group.model", "\x0B"), "byte offset 0 holds wire type 3");
  // A piece whose string claims more bytes than the piece message holds.
  checkError(load("nested.model", std::string("\x0A\x03\x0A\x05\x61", 5)),
             "byte offset 3: a field of 5 bytes runs past the end of its enclosing message at byte offset 5");
  checkError(load("nopieces.model", bytesField(2, "") + bytesField(3, "")), "holds no pieces");
}

TEST_CASE("sentencepiece model: settings the BPE encoder cannot honour are refused by name") {
  ScratchDir dir("spm-unsupported");
  const auto load = [&](const std::string& name, const TinyModel& m) {
    writeFile(dir / name, m.bytes());
    return errorOf([&] { loadTokenizer(dir / name); });
  };
  TinyModel unigram;
  unigram.model_type = 1;
  checkError(load("unigram.model", unigram), "Unigram SentencePiece models are not supported; slmc reads BPE");
  TinyModel word;
  word.model_type = 3;
  checkError(load("word.model", word), "is a WORD model");
  TinyModel no_bytes;
  no_bytes.byte_fallback = false;
  checkError(load("nobytes.model", no_bytes), "byte_fallback off");
  TinyModel nfkc;
  nfkc.normalizer = "nmt_nfkc";
  checkError(load("nfkc.model", nfkc), "'nmt_nfkc' normalizer");
  TinyModel no_prefix;
  no_prefix.add_dummy_prefix = false;
  checkError(load("noprefix.model", no_prefix), "add_dummy_prefix off");
  TinyModel bos;
  bos.bos_id = 5;
  checkError(load("bos.model", bos), "unk/bos/eos ids 0/5/2");
  TinyModel user;
  user.last_piece_type = 4;
  checkError(load("user.model", user), "piece 263 '" + kMetaspace + "ab' (USER_DEFINED)");

  checkError(errorOf([&] { loadTokenizer(dir / "missing.model"); }), "does not exist");
  checkError(errorOf([&] { loadSentencePieceTokenizer(dir / "missing.model"); }), "cannot open");
  // A directory whose only tokenizer.model is broken says so, after naming the files looked for.
  std::filesystem::create_directories(dir / "broken");
  writeFile(dir / "broken/tokenizer.model", unigram.bytes());
  const std::string err = errorOf([&] { loadTokenizer(dir / "broken"); });
  checkError(err, "holds no tokenizer.json or tokenizer.bin");
  checkError(err, "Unigram");
}
