// The per-group scale search (passes/quantize/grid_search.h) alone: seconds and nanoseconds per
// weight of searchedGrids on SmolLM2-135M's two MLP shapes, for the schemes the q2..q8 recipes
// and the bit budget try, with a skewed per-column importance (as E[x²] is), and the total
// weighted error of the chosen grids (a change that speeds the search must not raise it).
// This search is most of GPTQ's time and of the budget's candidate errors (issue 15).
//
//   bench_grid_search [--threads N]
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench_cli.h"
#include "passes/quantize/grid_search.h"

using namespace slmc;

int main(int argc, char** argv) {
  bench::parseThreadsFlag(argc, argv, "bench_grid_search");
  std::printf("%-10s %-12s %9s %9s %14s\n", "shape", "scheme", "seconds", "ns/weight", "weighted error");
  const int64_t shapes[][2] = {{1536, 576}, {576, 1536}};
  for (const auto& shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    std::mt19937 rng(1);
    std::student_t_distribution<float> heavy(4.0f);  // heavy-tailed weights, as trained ones are
    std::vector<float> w(static_cast<size_t>(rows * cols));
    for (auto& v : w) v = 0.02f * heavy(rng);
    std::vector<float> importance(static_cast<size_t>(cols));
    std::lognormal_distribution<float> skew(0.0f, 1.5f);
    for (auto& v : importance) v = skew(rng);
    for (const QuantScheme& scheme : {QuantScheme{2, 32, true}, QuantScheme{3, 32, true}, QuantScheme{4, 32, true},
                                      QuantScheme{4, 32, false}, QuantScheme{6, 32, true}, QuantScheme{8, 32, true},
                                      QuantScheme{4, 0, true}}) {
      const double t = bench::now();
      const std::vector<GroupGrid> grids = searchedGrids(w.data(), rows, cols, scheme, importance.data());
      const double seconds = bench::now() - t;
      const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
      double error = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groups; ++g)
          error += weightedGridError(w.data() + r * cols + g * gs, importance.data() + g * gs, gs,
                                     grids[static_cast<size_t>(r * groups + g)], scheme.bits());
      char name[32];
      std::snprintf(name, sizeof name, "%lldx%lld", static_cast<long long>(rows), static_cast<long long>(cols));
      std::printf("%-10s %-12s %9.3f %9.2f %14.8e\n", name, schemeName(scheme).c_str(), seconds,
                  1e9 * seconds / static_cast<double>(rows * cols), error);
      std::fflush(stdout);
    }
  }
  return 0;
}
