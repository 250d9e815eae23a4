#include <doctest/doctest.h>

#include "datasets/sha256.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("dataset sha256: FIPS 180-4 test vectors") {
  CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256Hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256Hex("The quick brown fox jumps over the lazy dog") ==
        "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
}

TEST_CASE("dataset sha256: incremental updates equal one shot") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>('a' + i * 7 % 26);
  for (size_t piece : {1, 3, 63, 64, 65, 999}) {
    Sha256 h;
    for (size_t at = 0; at < text.size(); at += piece) h.update(std::string_view(text).substr(at, piece));
    CHECK_MESSAGE(h.hexDigest() == sha256Hex(text), "piece " << piece);
  }
}

TEST_CASE("dataset sha256: files, including the real wikitext-2 validation split") {
  const std::string valid = dataDir() + "/wikitext-2/valid.txt";
  REQUIRE_MESSAGE(std::filesystem::exists(valid), "real data missing: " << valid << " (set SLMC_DATA)");
  // The digest published in data/wikitext-2/SOURCE.md.
  CHECK(sha256File(valid) == "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8");
  ScratchDir dir("sha256");
  writeFile(dir / "abc.txt", "abc");
  CHECK(sha256File(dir / "abc.txt") == sha256Hex("abc"));
  CHECK_THROWS_WITH_AS(sha256File(dir / "missing.txt"), doctest::Contains("cannot read"), Error);
}
