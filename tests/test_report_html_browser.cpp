// `slmc report html` checked in a real browser: Debian's chromium, headless, renders the page,
// takes a screenshot and reports no console error (a failed resource load, a broken SVG). The
// page needs no network and no script. Optional: without a chromium on PATH the case says so and
// checks nothing else (CI does not install the 290 MB browser; `apt-get install chromium` to run it).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>

#include "tests/test_support.h"

using namespace slmc::test;

namespace {
// The first of chromium's names on PATH, or "".
std::string findChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    if (std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0) return name;
  return "";
}

uint32_t bigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes.at(at + i));
  return v;
}
}  // namespace

TEST_CASE("report html: headless chromium renders the page with no console error and a non-blank screenshot") {
  const std::string chromium = findChromium();
  if (chromium.empty()) {
    MESSAGE("no chromium on PATH: the browser check is skipped (apt-get install chromium to run it)");
    return;
  }
  ScratchDir dir("report-html-browser");
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 --eval-tokens " +
                  fixture("reference/stories260K_sample.txt") + " --eval-ctx 128 -o " + dir / "q4")
              .exit_code == 0);
  const std::string page = dir / "r.html";
  REQUIRE(runSlmc("-q report html " + std::string(SLMC_SOURCE_DIR) + "/configs/baselines/stories260K-w8-rtn.json " +
                  dir / "q4/slmc_report.json -o " + page)
              .exit_code == 0);

  const std::string flags = " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" + dir / "profile" +
                            " --window-size=1280,2000 --enable-logging=stderr --v=0 ";
  const std::string shot = dir / "r.png";
  REQUIRE(std::system((chromium + flags + "--screenshot=" + shot + " file://" + page + " >" + dir / "shot.out" +
                       " 2>" + dir / "shot.err")
                          .c_str()) == 0);
  REQUIRE(std::system((chromium + flags + "--dump-dom file://" + page + " >" + dir / "dom.html" + " 2>" +
                       dir / "dom.err")
                          .c_str()) == 0);

  // The screenshot: a PNG of the window's size, far larger than a blank page compresses to.
  const std::string png = readFile(shot);
  REQUIRE(png.size() > 24);
  CHECK(png.substr(1, 3) == "PNG");
  CHECK(bigEndian32(png, 16) == 1280);
  CHECK(bigEndian32(png, 20) == 2000);
  CHECK(png.size() > 40000);  // a white 1280 x 2000 page is a few kB

  // The DOM the browser built: every plot is there as SVG, with the two runs' names.
  const std::string dom = readFile(dir / "dom.html");
  size_t svgs = 0;
  for (size_t at = dom.find("<svg"); at != std::string::npos; at = dom.find("<svg", at + 1)) ++svgs;
  CHECK(svgs >= 3);
  CHECK(dom.find("Pareto front") != std::string::npos);
  CHECK(dom.find("stories260K-w8-rtn") != std::string::npos);

  // No console message from the page (chromium logs them as ":CONSOLE:line]" or ":CONSOLE(line)"), no
  // resource it failed to load.
  for (const std::string& log : {readFile(dir / "shot.err"), readFile(dir / "dom.err")}) {
    CHECK_MESSAGE(log.find(":CONSOLE") == std::string::npos, log);
    CHECK_MESSAGE(log.find("Failed to load resource") == std::string::npos, log);
  }
}
