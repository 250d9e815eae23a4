// Which weights a compression pass touches: every 2-D linear weight of the model (the layers'
// projections, the embedding and the output head; not norms, biases or learned positions),
// minus the ones a user excludes by name. Shared by quantize (keep=) and prune (skip=).
#pragma once

#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

// A plain pattern matches as a substring of the tensor name, "re:..." as a whole-name regular
// expression (an invalid one is an Error naming it).
bool matchesNamePattern(const std::string& name, const std::string& pattern);

// The model's linear weights in checkpoint order, without those matching any of `exclude`.
std::vector<std::string> selectLinearWeights(const Model& model, const std::vector<std::string>& exclude);

}  // namespace slmc
