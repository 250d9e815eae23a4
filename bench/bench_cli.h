// What the small quantizer benchmarks share: a wall clock, and a command line that takes only
// `--threads N` (OpenMP's thread count).
#pragma once

#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace slmc::bench {

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Sets the OpenMP thread count from `--threads N`; anything else prints the usage and exits 2.
inline void parseThreadsFlag(int argc, char** argv, const char* program) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      omp_set_num_threads(std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--threads N]\n", program);
      std::exit(2);
    }
  }
  std::printf("threads %d\n", omp_get_max_threads());
}

}  // namespace slmc::bench
