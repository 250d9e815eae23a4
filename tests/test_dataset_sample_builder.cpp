#include <doctest/doctest.h>

#include "datasets/sample_builder.h"
#include "lib/support/error.h"
#include "tests/byte_tokenizer.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
using Ids = std::vector<int32_t>;
}

TEST_CASE("dataset samples: documents concatenate and cut into seq_len samples, tail dropped") {
  SampleBuilder builder(4);
  builder.append({1, 10, 11});
  Ids sample;
  CHECK_FALSE(builder.pop(sample));
  builder.append({1, 12, 13, 14, 15});
  builder.append({1, 16});
  // Stream: 1 10 11 1 | 12 13 14 15 | 1 16 (tail of 2 dropped)
  REQUIRE(builder.pop(sample));
  CHECK(sample == Ids{1, 10, 11, 1});
  REQUIRE(builder.pop(sample));
  CHECK(sample == Ids{12, 13, 14, 15});
  CHECK_FALSE(builder.pop(sample));
  CHECK(builder.pendingTokens() == 2);
  CHECK_THROWS_WITH_AS(SampleBuilder(0), doctest::Contains("--seq-len must be at least 1"), Error);
}

TEST_CASE("dataset samples: BOS per document, EOS only for tokenizers without BOS") {
  const ByteTokenizer with_bos;
  const ByteTokenizer without_bos(false);
  Document doc{"ab", "f.txt", 3};
  CHECK(encodeDocument(with_bos, doc) == Ids{1, 'a' + 3, 'b' + 3});
  CHECK(encodeDocument(without_bos, doc) == Ids{'a' + 3, 'b' + 3, 2});
  CHECK(boundaryPolicyDescription(with_bos).find("BOS prepended to each document") == 0);
  CHECK(boundaryPolicyDescription(without_bos).find("EOS appended") == 0);
  doc.text = "ok \xff";
  CHECK_THROWS_WITH_AS(encodeDocument(with_bos, doc),
                       doctest::Contains("f.txt: document starting at line 3: invalid UTF-8 at byte 3"), Error);
}

TEST_CASE("dataset samples: SampleStream over a file matches the hand-cut stream") {
  ScratchDir dir("samples-stream");
  writeFile(dir / "d.txt", "ab\ncd\n\nefg\n\nh\n");
  DocumentReader reader({dir / "d.txt"}, TextSourceOptions{});
  const ByteTokenizer tokenizer;
  SampleStream stream(reader, tokenizer, 5);
  // Documents "ab\ncd", "efg", "h" -> stream 1 a b \n c d 1 e f g 1 h (12 ids) -> 2 samples, 2 dropped.
  const int32_t a = 'a' + 3, nl = '\n' + 3;
  Ids sample;
  REQUIRE(stream.next(sample));
  CHECK(sample == Ids{1, a, a + 1, nl, a + 2});
  REQUIRE(stream.next(sample));
  CHECK(sample == Ids{a + 3, 1, a + 4, a + 5, a + 6});
  CHECK_FALSE(stream.next(sample));
  CHECK(stream.documents() == 3);
  CHECK(stream.tokens() == 12);
  CHECK(stream.droppedTailTokens() == 2);
}

TEST_CASE("dataset samples: tokenizeDocuments keeps the whole stream or stops at max_tokens") {
  ScratchDir dir("samples-tokenize");
  writeFile(dir / "d.txt", "ab\ncd\n");
  const ByteTokenizer tokenizer;
  {
    DocumentReader reader({dir / "d.txt"}, TextSourceOptions{TextFormat::Lines});
    const TokenStream s = tokenizeDocuments(reader, tokenizer);
    CHECK(s.ids == Ids{1, 'a' + 3, 'b' + 3, 1, 'c' + 3, 'd' + 3});
    CHECK(s.documents == 2);
  }
  DocumentReader reader({dir / "d.txt"}, TextSourceOptions{TextFormat::Lines});
  const TokenStream s = tokenizeDocuments(reader, tokenizer, 2);
  CHECK(s.ids == Ids{1, 'a' + 3});
  CHECK(s.documents == 1);
}
