// Single-threaded tokenizer throughput on real text: wikitext-2 valid + test repeated to at least
// 5 MB, encoded in one call and line by line, with each tokenizer slmc reads. Prints MB/s and
// tokens/s; asserts nothing (tests pin correctness).
//
//   bench_tokenizer [--reps N]    (SLMC_DATA / SLMC_MODELS override where the inputs live)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/tokenizer.h"
#include "lib/support/error.h"

namespace {
std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  slmc::require(in.good(), "cannot read '" + path + "'; set SLMC_DATA to the folder holding wikitext-2/");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

struct Figures {
  double seconds;
  size_t tokens;
};

// Best of `reps` runs of `f`, which returns the token count.
template <typename F>
Figures best(int reps, F&& f) {
  Figures out{1e30, 0};
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const size_t tokens = f();
    const double s = seconds(t0);
    if (s < out.seconds) out = {s, tokens};
  }
  return out;
}

void print(const char* name, const char* mode, size_t bytes, const Figures& f) {
  std::printf("%-22s %-10s %8.1f MB/s %10.2f M tokens/s  (%zu tokens, %.3f s)\n", name, mode,
              static_cast<double>(bytes) / 1e6 / f.seconds, static_cast<double>(f.tokens) / 1e6 / f.seconds,
              f.tokens, f.seconds);
}
}  // namespace

int main(int argc, char** argv) try {
  int reps = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
  const std::string data = envOr("SLMC_DATA", SLMC_DEFAULT_DATA);
  const std::string models = envOr("SLMC_MODELS", SLMC_DEFAULT_MODELS);
  const std::string base = readFile(data + "/wikitext-2/valid.txt") + readFile(data + "/wikitext-2/test.txt");
  std::string text;
  while (text.size() < 5'000'000) text += base;
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.push_back(text.substr(at, end - at));
    at = end;
  }
  std::printf("text: %.2f MB (%zu lines), best of %d runs, one thread\n", static_cast<double>(text.size()) / 1e6,
              lines.size(), reps);

  const std::vector<std::pair<const char*, std::string>> tokenizers = {
      {"llama2c tokenizer.bin", models + "/llama2-tokenizer/tokenizer.bin"},
      {"llama2 tokenizer.json", std::string(SLMC_SOURCE_DIR) + "/tests/fixtures/tokenizers/llama2/tokenizer.json"},
      {"byte-level (2k vocab)", std::string(SLMC_SOURCE_DIR) + "/tests/fixtures/tokenizers/bytelevel/tokenizer.json"},
      {"SmolLM2 tokenizer.json", models + "/smollm2-135m-instruct/tokenizer.json"},
  };
  for (const auto& [name, path] : tokenizers) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = slmc::loadTokenizer(path);
    std::printf("%-22s load %.1f ms (%s, vocab %lld)\n", name, seconds(t0) * 1e3, tok->kind().c_str(),
                static_cast<long long>(tok->vocabSize()));
    print(name, "whole", text.size(), best(reps, [&] { return tok->encode(text, false).size(); }));
    print(name, "per line", text.size(), best(reps, [&] {
            size_t n = 0;
            for (const std::string& line : lines) n += tok->encode(line, false).size();
            return n;
          }));
  }
  return 0;
} catch (const slmc::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
