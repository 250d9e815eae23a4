#include "passes/prune/wanda_pass.h"

#include "passes/prune/prune_model.h"

namespace slmc {

WandaPass::WandaPass() : WeightPrunePass(PruneMethod::Wanda, "Wanda pruning: smallest |w|·‖x‖ (calibrated)") {}

}  // namespace slmc
