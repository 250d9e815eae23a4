// Models and inputs the whole-model benchmarks share: where the real checkpoints are, and a
// model shaped like llama2.c's stories15M with random weights and ids (timing does not depend on
// the values).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/model/random_model.h"

namespace slmc::bench {

inline std::string modelsDir() {
  const char* env = std::getenv("SLMC_MODELS");
  return env ? env : SLMC_DEFAULT_MODELS;
}

// dim 288, 6 layers, 6 heads, MLP 768, vocab 32000, tied embeddings: 15.2M parameters.
inline Model stories15MShaped() {
  ModelConfig c;
  c.hidden_size = 288;
  c.intermediate_size = 768;
  c.num_layers = 6;
  c.num_heads = 6;
  c.num_kv_heads = 6;
  c.head_dim = 48;
  c.vocab_size = 32000;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = true;
  return randomModel(c, 3, 0.05f);
}

inline int64_t parameterCount(const Model& m) {
  int64_t params = 0;
  for (const auto& [name, t] : m.tensors) params += t.numel();
  return params;
}

// n x len ids in [0, vocab) from xorshift64 (any ids will do for timing).
inline std::vector<int32_t> randomIds(int64_t n, int64_t len, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n * len));
  uint64_t x = 88172645463325252ull;
  for (int32_t& id : ids) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    id = static_cast<int32_t>(x % static_cast<uint64_t>(vocab));
  }
  return ids;
}

// The flags every whole-model benchmark takes: [--threads N] [--skip-quality] [--skip-timing].
struct WholeModelBenchArgs {
  int threads = 0;  // 0: all cores
  bool quality = true, timing = true;
};
// False (after printing the usage for `program`) on an unknown flag.
inline bool parseWholeModelBenchArgs(int argc, char** argv, const char* program, WholeModelBenchArgs& out) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) out.threads = std::atoi(argv[++i]);
    else if (a == "--skip-quality") out.quality = false;
    else if (a == "--skip-timing") out.timing = false;
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--skip-quality] [--skip-timing]\n", program);
      return false;
    }
  }
  return true;
}

}  // namespace slmc::bench
