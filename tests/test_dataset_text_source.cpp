#include <doctest/doctest.h>

#include <utility>

#include "datasets/sha256.h"
#include "datasets/text_source.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// (text, line) of every document in `files`.
std::vector<std::pair<std::string, int64_t>> readAll(const std::vector<std::string>& files, TextFormat format,
                                                     size_t chunk_bytes = 1 << 20, const std::string& field = "text") {
  TextSourceOptions options;
  options.format = format;
  options.chunk_bytes = chunk_bytes;
  options.field = field;
  DocumentReader reader(files, options);
  std::vector<std::pair<std::string, int64_t>> docs;
  Document doc;
  while (reader.next(doc)) docs.emplace_back(doc.text, doc.line);
  return docs;
}

using Docs = std::vector<std::pair<std::string, int64_t>>;

// Blank lines here: empty, a lone space (as in wikitext), a lone '\r'; a CRLF line end.
const char* kSample = "a b\nc\n\n \n\r\nd\r\ne\n";
}  // namespace

TEST_CASE("dataset text: paragraphs, lines and whole-file documents split as documented") {
  ScratchDir dir("text-formats");
  writeFile(dir / "s.txt", kSample);
  CHECK(readAll({dir / "s.txt"}, TextFormat::Paragraphs) == Docs{{"a b\nc", 1}, {"d\ne", 6}});
  CHECK(readAll({dir / "s.txt"}, TextFormat::Lines) == Docs{{"a b", 1}, {"c", 2}, {"d", 6}, {"e", 7}});
  CHECK(readAll({dir / "s.txt"}, TextFormat::Text) == Docs{{kSample, 1}});
  CHECK(readAll({dir / "s.txt"}, TextFormat::Auto) == readAll({dir / "s.txt"}, TextFormat::Paragraphs));
  // No newline at the end of the file: the last line still counts; leading spaces are kept.
  writeFile(dir / "t.txt", " x\n\n y");
  CHECK(readAll({dir / "t.txt"}, TextFormat::Paragraphs) == Docs{{" x", 1}, {" y", 3}});
  // Several files: documents in file order.
  CHECK(readAll({dir / "t.txt", dir / "s.txt"}, TextFormat::Lines) ==
        Docs{{" x", 1}, {" y", 3}, {"a b", 1}, {"c", 2}, {"d", 6}, {"e", 7}});
}

TEST_CASE("dataset text: format names and auto resolution") {
  CHECK(parseTextFormat("paragraphs") == TextFormat::Paragraphs);
  CHECK(std::string(textFormatName(TextFormat::Jsonl)) == "jsonl");
  CHECK_THROWS_WITH_AS(parseTextFormat("csv"), doctest::Contains("use auto, text, lines, paragraphs or jsonl"), Error);
  CHECK(resolveTextFormat("a/b.jsonl", TextFormat::Auto) == TextFormat::Jsonl);
  CHECK(resolveTextFormat("a/b.txt", TextFormat::Auto) == TextFormat::Paragraphs);
  CHECK(resolveTextFormat("a/b.jsonl", TextFormat::Lines) == TextFormat::Lines);
}

TEST_CASE("dataset text: JSONL documents from a field, empty values skipped") {
  ScratchDir dir("text-jsonl");
  writeFile(
      dir / "d.jsonl",
      "{\"text\": \"hello\\nworld\"}\n\n{\"text\": \"\", \"id\": 2}\n{\"body\": \"b4\", \"text\": \"caf\\u00e9\"}\n");
  CHECK(readAll({dir / "d.jsonl"}, TextFormat::Auto) == Docs{{"hello\nworld", 1}, {"caf\xc3\xa9", 4}});
  writeFile(dir / "b.jsonl", "{\"body\": \"x\"}\n{\"body\": \"y\"}\n");
  CHECK(readAll({dir / "b.jsonl"}, TextFormat::Jsonl, 1 << 20, "body") == Docs{{"x", 1}, {"y", 2}});
}

TEST_CASE("dataset text: JSONL errors name file:line and the fix") {
  ScratchDir dir("text-jsonl-bad");
  writeFile(dir / "bad.jsonl", "{\"text\": \"ok\"}\n\n{not json\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "bad.jsonl"}, TextFormat::Auto),
                       doctest::Contains((dir / "bad.jsonl:3: not valid JSON").c_str()), Error);
  writeFile(dir / "field.jsonl", "{\"text\": \"ok\"}\n{\"content\": \"x\"}\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "field.jsonl"}, TextFormat::Auto),
                       doctest::Contains((dir / "field.jsonl:2: no string field \"text\"").c_str()), Error);
  CHECK_THROWS_WITH_AS(readAll({dir / "field.jsonl"}, TextFormat::Auto), doctest::Contains("--field"), Error);
  writeFile(dir / "number.jsonl", "{\"text\": 5}\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "number.jsonl"}, TextFormat::Auto),
                       doctest::Contains("number.jsonl:1: no string field"), Error);
  writeFile(dir / "array.jsonl", "[\"text\"]\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "array.jsonl"}, TextFormat::Auto),
                       doctest::Contains("array.jsonl:1: no string field"), Error);
  // nlohmann::json validates UTF-8 inside strings.
  writeFile(dir / "latin1.jsonl", "{\"text\": \"caf\xe9\"}\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "latin1.jsonl"}, TextFormat::Auto),
                       doctest::Contains("latin1.jsonl:1: not valid JSON or not UTF-8"), Error);
}

TEST_CASE("dataset text: empty and blank files are errors") {
  ScratchDir dir("text-empty");
  writeFile(dir / "empty.txt", "");
  CHECK_THROWS_WITH_AS(readAll({dir / "empty.txt"}, TextFormat::Auto), doctest::Contains("empty.txt: empty file"),
                       Error);
  writeFile(dir / "blank.txt", " \n\n\t\n");
  for (TextFormat f : {TextFormat::Text, TextFormat::Lines, TextFormat::Paragraphs})
    CHECK_THROWS_WITH_AS(readAll({dir / "blank.txt"}, f), doctest::Contains("blank.txt: no text in the file"), Error);
  writeFile(dir / "blank.jsonl", "{\"text\": \"\"}\n");
  CHECK_THROWS_WITH_AS(readAll({dir / "blank.jsonl"}, TextFormat::Auto),
                       doctest::Contains("only blank lines or empty fields"), Error);
}

TEST_CASE("dataset text: directories expand recursively to sorted .txt/.jsonl files") {
  ScratchDir dir("text-dir");
  std::filesystem::create_directories(dir / "corpus/a");
  std::filesystem::create_directories(dir / "corpus/empty");
  writeFile(dir / "corpus/b.txt", "b\n");
  writeFile(dir / "corpus/a/z.txt", "z\n");
  writeFile(dir / "corpus/a/c.jsonl", "{\"text\": \"c\"}\n");
  writeFile(dir / "corpus/notes.md", "ignored\n");
  const auto files = expandInputs({dir / "corpus", dir / "corpus/b.txt"});
  CHECK(files == std::vector<std::string>{dir / "corpus/a/c.jsonl", dir / "corpus/a/z.txt", dir / "corpus/b.txt",
                                          dir / "corpus/b.txt"});
  CHECK(readAll(expandInputs({dir / "corpus"}), TextFormat::Auto) == Docs{{"c", 1}, {"z", 1}, {"b", 1}});
  CHECK_THROWS_WITH_AS(expandInputs({dir / "nope"}), doctest::Contains("does not exist"), Error);
  CHECK_THROWS_WITH_AS(expandInputs({dir / "corpus/empty"}), doctest::Contains("holds no .txt or .jsonl files"), Error);
  CHECK_THROWS_WITH_AS(expandInputs({}), doctest::Contains("no input files"), Error);
}

TEST_CASE("dataset text: streaming with a tiny read buffer gives the same documents and digests") {
  ScratchDir dir("text-stream");
  // ~200 KB: paragraphs of 1..7 lines, lines up to ~300 bytes (much longer than the 7-byte chunk).
  std::string text;
  uint32_t state = 12345;
  const auto next = [&state] { return state = state * 1103515245u + 12345u, (state >> 16) & 0x7fff; };
  for (int p = 0; p < 600; ++p) {
    const int lines = 1 + static_cast<int>(next() % 7);
    for (int l = 0; l < lines; ++l) {
      const int len = 1 + static_cast<int>(next() % 300);
      for (int c = 0; c < len; ++c) text += static_cast<char>('a' + next() % 26);
      text += next() % 5 == 0 ? "\r\n" : "\n";
    }
    text += next() % 2 ? "\n" : " \n\n";
  }
  writeFile(dir / "big.txt", text);
  for (TextFormat format : {TextFormat::Paragraphs, TextFormat::Lines, TextFormat::Text}) {
    const Docs small = readAll({dir / "big.txt"}, format, 7);
    const Docs large = readAll({dir / "big.txt"}, format);
    CHECK(small == large);
    CHECK(small.size() >= (format == TextFormat::Text ? 1u : 600u));
  }
  TextSourceOptions options;
  options.chunk_bytes = 7;
  DocumentReader reader({dir / "big.txt"}, options);
  Document doc;
  int64_t n = 0;
  while (reader.next(doc)) ++n;
  CHECK(n == 600);
  REQUIRE(reader.filesRead().size() == 1);
  const SourceFile& f = reader.filesRead()[0];
  CHECK(f.bytes == static_cast<int64_t>(text.size()));
  CHECK(f.documents == 600);
  CHECK(f.format == "paragraphs");
  CHECK(f.sha256 == sha256Hex(text));
}
