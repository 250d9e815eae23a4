// Whether a distillation run fits in memory, checked from shapes before anything is allocated:
// a lower bound on its peak (what LibTorch must hold at once for one micro-batch), against the
// memory the machine has available. Counted, in float32 bytes:
//   teacher        its parameters (inference only);
//   student        parameters, gradients and AdamW's two moments (QAT: also the fake-quantized
//                  copy its forward builds);
//   activations    per micro-batch token and layer, what the backward keeps (~10 hidden-wide and
//                  4 MLP-wide vectors), plus each layer's attention scores and probabilities
//                  (heads x seq x seq per sequence), plus ~6 [tokens, vocab] logit-sized
//                  tensors (both models' logits, their softmaxes, the KL terms, the gradient).
// Measured on SmolLM2-135M: the bound is 6.0 GiB for QAT at batch 4 x 256 against a 9.3 GiB
// peak RSS (the pipeline's own copies of the models and LibTorch's allocator make the rest).
#pragma once

#include <cstdint>
#include <string>

#include "lib/model/model.h"

namespace slmc {

struct DistillMemoryEstimate {
  int64_t teacher = 0, student = 0, activations = 0;
  int64_t total() const { return teacher + student + activations; }
};

// recompute (activation checkpointing): every layer keeps only its input (one hidden-wide vector
// per token), and one layer's internals live at a time, during its backward.
DistillMemoryEstimate estimateDistillMemory(const Model& student, const Model& teacher, int64_t batch, int64_t seq_len,
                                            bool qat, bool recompute = false);

// Bytes this process may still allocate: MemAvailable from /proc/meminfo, lowered to what the
// cgroup's memory.max leaves, if any; -1 when unknown. The environment variable
// SLMC_MEMORY_AVAILABLE (bytes) overrides both (tests use it to play a small machine).
int64_t availableMemoryBytes();

// Throws the one-line error (what the batch needs, what is available, what to lower) when
// `ranks_here` ranks of the estimate (data-parallel processes on this machine, each with its own
// copies) exceed `available` (>= 0).
void requireDistillMemory(const DistillMemoryEstimate& need, int64_t available, int64_t batch, int64_t seq_len,
                          int64_t ranks_here = 1);

}  // namespace slmc
