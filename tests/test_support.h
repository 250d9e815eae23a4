// Shared helpers for the doctest suites: where the real models and fixtures are, scratch
// directories, running the slmc binary, reading files.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/format/checkpoint.h"
#include "lib/support/error.h"

namespace slmc::test {

inline std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The real checkpoints and text (../shared by default; SLMC_MODELS / SLMC_DATA override).
inline std::string modelsDir() { return envOr("SLMC_MODELS", SLMC_DEFAULT_MODELS); }
inline std::string dataDir() { return envOr("SLMC_DATA", SLMC_DEFAULT_DATA); }
// A real file under SLMC_MODELS / SLMC_DATA; the test fails naming it when it is missing.
inline std::string realFile(const std::string& path, const char* env) {
  REQUIRE_MESSAGE(std::filesystem::exists(path), "real file missing: " << path << " (set " << env << ")");
  return path;
}
inline std::string stories260K() { return realFile(modelsDir() + "/stories260K/stories260K.bin", "SLMC_MODELS"); }
// The real stories260K, loaded once per test binary.
inline const Model& stories260KModel() {
  static const Model m = loadModel(stories260K());
  return m;
}
inline std::string llama2TokenizerBin() { return realFile(modelsDir() + "/llama2-tokenizer/tokenizer.bin", "SLMC_MODELS"); }
inline std::string wikitext(const std::string& split) {
  return realFile(dataDir() + "/wikitext-2/" + split + ".txt", "SLMC_DATA");
}
inline std::string fixture(const std::string& rel) { return std::string(SLMC_SOURCE_DIR) + "/tests/fixtures/" + rel; }

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
inline void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}
// Runtime logits against the LibTorch reference's: both sum in float32, in orders that differ,
// and the reference's order depends on the OpenBLAS kernel the CPU selects (SkylakeX and
// Cooperlake measured 1.03e-4 apart on stories260K, each within 3e-7 relative of float64).
inline constexpr double kReferenceLogitTolerance = 2e-4;
inline nlohmann::json readJson(const std::string& path) { return nlohmann::json::parse(readFile(path)); }

// A fresh directory under the working directory, removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::absolute("scratch-" + name + "-" + std::to_string(::getpid())).string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }
  // Files left in the directory (to check that failures leave nothing behind).
  size_t entries() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `slmc <args>` through the shell, capturing stdout and stderr separately.
inline CommandResult runSlmc(const std::string& args) {
  static int counter = 0;
  const std::string base = "cmd-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const std::string cmd = std::string(SLMC_BINARY) + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  CommandResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, readFile(base + ".out"), readFile(base + ".err")};
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return r;
}

// Calibration (seed 1) and evaluation (seed 2) sets of `seq_len` tokens that stories260K samples
// itself with `slmc dataset generate` (its own tokenizer is not in ../shared), for CLI tests.
struct GeneratedStoriesData {
  ScratchDir dir;
  std::string calib = dir / "calib.h5", eval = dir / "eval.h5";
  GeneratedStoriesData(const std::string& name, int64_t calib_samples, int64_t eval_samples, int64_t seq_len)
      : dir(name) {
    const std::string shape = " --seq-len " + std::to_string(seq_len);
    REQUIRE(runSlmc("-q dataset generate " + stories260K() + " --samples " + std::to_string(calib_samples) + shape +
                    " --seed 1 -o " + calib).exit_code == 0);
    REQUIRE(runSlmc("-q dataset generate " + stories260K() + " --samples " + std::to_string(eval_samples) + shape +
                    " --seed 2 -o " + eval).exit_code == 0);
  }
};

inline size_t countLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// The message of the slmc::Error that `f` throws, or "no error".
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// An error message as users must see it: one line holding `expected`.
inline void checkError(const std::string& err, const std::string& expected) {
  CHECK_MESSAGE(err.find(expected) != std::string::npos, "expected '" << expected << "' in: " << err);
  CHECK_MESSAGE(err.find('\n') == std::string::npos, err);
}

// A failed command as users must see it: exit code 1 and one line `slmc: error: ...` holding `text`.
inline void expectError(const CommandResult& r, const std::string& text) {
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.rfind("slmc: error: ", 0) == 0, r.err);
  CHECK_MESSAGE(r.err.find(text) != std::string::npos, r.err);
  CHECK_MESSAGE(countLines(r.err) == 1, r.err);
}

}  // namespace slmc::test
