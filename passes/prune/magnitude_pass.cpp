#include "passes/prune/magnitude_pass.h"

#include "passes/prune/prune_model.h"

namespace slmc {

MagnitudePass::MagnitudePass() : WeightPrunePass(PruneMethod::Magnitude, "magnitude pruning: smallest |w| (no data)") {}

}  // namespace slmc
