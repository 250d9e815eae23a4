// How a model's sparsity (Model::sparsity) is written into exports and read back: the same JSON
// object in a Hugging Face directory's config.json ("sparsity_config") and in a pack's metadata
// ("sparsity"). The mask itself is the weights' zeros, so nothing else is stored; readers check
// that the weights still have the recorded pattern (an N:M claim the weights break means the file
// was edited or damaged, and a runtime exploiting N:M would compute garbage).
//
//   {"format": "slmc", "version": 1,
//    "weights": {"model.layers.0.mlp.up_proj.weight": {"pattern": "2:4", "target": 0.5, "method": "wanda"}, …}}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/model/model.h"

namespace slmc {

// The record of `model.sparsity` (an empty "weights" object for a dense model).
nlohmann::json sparsityRecord(const Model& model);

// Fills `model.sparsity` from a record, after checking every entry names a 2-D tensor of the
// model and that its weights hold the pattern. Errors name `origin` and the tensor.
void importSparsityRecord(const nlohmann::json& record, Model& model, const std::string& origin);

// Checks the weights of every N:M entry of `model.sparsity` (unstructured entries have no
// pattern to check: their zeros are the mask). Throws Error naming the tensor, row and columns of the first violating group.
void checkSparsityPatterns(const Model& model, const std::string& origin);

// Fraction of exactly-zero values of a tensor (any float dtype).
double zeroFraction(const Tensor& tensor);

}  // namespace slmc
