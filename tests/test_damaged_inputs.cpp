// The damaged-input corpus (tests/fixtures/damaged, written by scripts/make_damaged_fixtures.py):
// every file broken in one way a user could hand slmc — sizes past any bound, fields of the wrong
// kind, truncated or overlapping data, NaN weights, headers that lie — ends in exit code 1 and one
// error line holding the words cases.json names, prints nothing else and writes nothing.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "tests/test_support.h"

using namespace slmc::test;
namespace fs = std::filesystem;

namespace {
const std::string kCorpus = fixture("damaged");

std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.insert(e.path().string());
  return names;
}

// The case's command with each word that names a corpus file made absolute.
std::string commandIn(const std::string& command) {
  std::istringstream words(command);
  std::string word, out;
  while (words >> word) {
    std::error_code ec;
    if (word[0] != '-' && fs::exists(fs::path(kCorpus) / word, ec)) word = (fs::path(kCorpus) / word).string();
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}
}  // namespace

TEST_CASE("damaged inputs: every case of the corpus is one error line naming the damage, and nothing else") {
  const nlohmann::json cases = readJson(kCorpus + "/cases.json");
  REQUIRE(cases.size() >= 18);
  const std::set<std::string> before = listing(kCorpus);
  std::set<std::string> names;
  for (const nlohmann::json& c : cases) {
    const std::string name = c["name"], command = c["command"], expect = c["expect"];
    CAPTURE(name);
    CHECK(names.insert(name).second);
    const CommandResult r = runSlmc("-q " + commandIn(command));
    expectError(r, expect);
    CHECK(r.out.empty());
  }
  CHECK(listing(kCorpus) == before);  // no file written beside the inputs, none changed away
}
