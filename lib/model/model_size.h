// How big a model is as it would be stored: float tensors at their dtype's size, quantized
// tensors at their packed size (codes + F16 scales + packed zeros, quant_scheme.h), so the
// report's bits per weight is what an artifact costs, not the dequantized floats in memory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "lib/model/model.h"

namespace slmc {

struct ModelSize {
  int64_t parameters = 0;
  int64_t bytes = 0;
  double bits_per_weight = 0;  // 8 * bytes / parameters
  int64_t quantized_parameters = 0;
  double quantized_bits_per_weight = 0;  // over the quantized tensors only (0 when none)
  // Parameters that are not exactly zero (pruning's effect; bytes stay those of dense storage).
  int64_t nonzero_parameters = 0;
  int64_t sparse_tensors = 0;  // tensors recorded as pruned (Model::sparsity)
};

// A tied lm_head is the embedding and counts once (the model then holds no lm_head tensor).
ModelSize modelSize(const Model& model);
nlohmann::json modelSizeJson(const ModelSize& size);

}  // namespace slmc
