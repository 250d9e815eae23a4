// `wanda`: Wanda pruning (Sun et al. 2023): the smallest |w|·‖x‖ of each row, from the layer's
// calibration input norms.
#pragma once

#include "passes/prune/weight_prune_pass.h"

namespace slmc {

class WandaPass : public WeightPrunePass {
 public:
  WandaPass();
};

}  // namespace slmc
