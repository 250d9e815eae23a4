#include <doctest/doctest.h>

#include "datasets/token_file.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("token files: text and raw uint32 round trip") {
  ScratchDir dir("tokens");
  const std::vector<int32_t> ids = {1, 0, 511, 7, 2147483647};
  writeTokenFile(dir / "a.txt", ids);
  writeTokenFile(dir / "a.u32", ids);
  CHECK(readTokenFile(dir / "a.txt") == ids);
  CHECK(readTokenFile(dir / "a.u32") == ids);
  CHECK(readFile(dir / "a.u32").size() == 20);
  writeFile(dir / "b.txt", "  3\r\n\n4 \n");
  CHECK(readTokenFile(dir / "b.txt") == std::vector<int32_t>{3, 4});
}

TEST_CASE("token files: bad input names the line or the problem") {
  ScratchDir dir("tokens-bad");
  writeFile(dir / "bad.txt", "1\n2\nthree\n");
  CHECK_THROWS_WITH_AS(readTokenFile(dir / "bad.txt"), doctest::Contains("bad.txt:3: 'three' is not a token id"), Error);
  writeFile(dir / "neg.txt", "-4\n");
  CHECK_THROWS_AS(readTokenFile(dir / "neg.txt"), Error);
  writeFile(dir / "odd.u32", std::string(7, '\0'));
  CHECK_THROWS_WITH_AS(readTokenFile(dir / "odd.u32"), doctest::Contains("not a whole number of uint32"), Error);
  writeFile(dir / "empty.txt", "\n\n");
  CHECK_THROWS_WITH_AS(readTokenFile(dir / "empty.txt"), doctest::Contains("no token ids"), Error);
  CHECK_THROWS_WITH_AS(readTokenFile(dir / "ids.dat"), doctest::Contains("cannot tell the format"), Error);
  CHECK_THROWS_WITH_AS(readTokenFile(dir / "missing.txt"), doctest::Contains("cannot open"), Error);
}
