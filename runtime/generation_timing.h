// The runtime's speed protocol, shared by `slmc bench` and bench/bench_runtime_generation so
// that their figures mean the same: a fixed prompt, a warm-up token, then from an empty cache
// the prompt prefilled in one call and greedy tokens generated one at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/model_config.h"
#include "runtime/transformer.h"

namespace slmc::runtime {

// BOS (clamped into the vocabulary), then the pseudo-random ids (i · 7919 + 13) mod vocab: any
// ids do for timing, and fixed ones keep runs comparable.
std::vector<int32_t> benchmarkPrompt(const ModelConfig& c, int64_t length);

struct GenerationSpeed {
  double prompt_tokens_per_second;      // the prefill of the whole prompt
  double generation_tokens_per_second;  // `steps` greedy tokens after it
};

// One warm-up token (pages the weights in), then the prompt and `steps` greedy tokens timed from
// an empty cache. prompt.size() + steps must fit the model's context.
GenerationSpeed timeGeneration(Transformer& model, const std::vector<int32_t>& prompt, int64_t steps);

}  // namespace slmc::runtime
