// Models with every tensor the config implies, filled with deterministic pseudo-random weights:
// for unit tests and benchmarks that need a model of a given shape (never a stand-in for the
// real checkpoints, which every capability must also be shown on).
#pragma once

#include <cstdint>

#include "lib/model/model.h"

namespace slmc {

// Linear weights and embeddings uniform in [-scale, scale]; norm weights 1, biases 0. The same
// config and seed give the same bytes on every platform (a fixed LCG, no <random> distributions).
Model randomModel(const ModelConfig& config, uint64_t seed, float scale = 0.1f);

}  // namespace slmc
