// Round-to-nearest weight quantization with an observer choosing each group's range: the
// baseline every other quantizer is measured against, and the fallback when no calibration
// data is given. With ObserverKind::MinMax it is exactly lib's quantizeRtn.
#pragma once

#include <cstdint>
#include <vector>

#include "calibration/observers.h"
#include "lib/model/quantized_tensor.h"

namespace slmc {

// The per-[row, group] grids of a row-major [rows, cols] weight: each group's range from the
// observer, then gridForRange (row-major, groupsPerRow(scheme, cols) per row).
std::vector<GroupGrid> observedGrids(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                     const ObserverOptions& observer);

// RTN of a row-major [rows, cols] weight on observedGrids.
// (RTN on the searched grids of grid_search.h is quantizeOnGrids(w, …, searchedGrids(w, …)).)
QuantizedTensor quantizeRtnObserved(const float* w, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                    const ObserverOptions& observer);

}  // namespace slmc
