// `magnitude`: prune the smallest |w| of each row (or N:M group). No data needed.
#pragma once

#include "passes/prune/weight_prune_pass.h"

namespace slmc {

class MagnitudePass : public WeightPrunePass {
 public:
  MagnitudePass();
};

}  // namespace slmc
