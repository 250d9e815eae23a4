#include "passes/quantize/rtn.h"

#include "lib/support/error.h"

namespace slmc {

std::vector<GroupGrid> observedGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                     const ObserverOptions& observer) {
  validateBits(scheme.bits());
  validateObserverOptions(observer, scheme.bits());
  require(rows > 0 && cols > 0, "RTN: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  std::vector<GroupGrid> grids(static_cast<size_t>(rows * groups));
  // Groups are independent; the observers are pure functions.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const ValueRange range = observeRange(w + r * cols + g * gs, gs, scheme.bits(), scheme.symmetric, observer);
      grids[static_cast<size_t>(r * groups + g)] = gridForRange(range.lo, range.hi, scheme.bits(), scheme.symmetric);
    }
  return grids;
}

QuantizedTensor quantizeRtnObserved(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                    const ObserverOptions& observer) {
  return quantizeOnGrids(w, rows, cols, scheme, observedGrids(w, rows, cols, scheme, observer));
}

}  // namespace slmc
