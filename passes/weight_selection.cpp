#include "passes/weight_selection.h"

#include <algorithm>
#include <regex>

#include "lib/support/error.h"

namespace slmc {

bool matchesNamePattern(const std::string& name, const std::string& pattern) {
  if (pattern.rfind("re:", 0) == 0) {
    try {
      return std::regex_match(name, std::regex(pattern.substr(3)));
    } catch (const std::regex_error& e) {
      throw Error("weight pattern '" + pattern + "' is not a valid regular expression (" + e.what() + ")");
    }
  }
  return name.find(pattern) != std::string::npos;
}

std::vector<std::string> selectLinearWeights(const Model& model, const std::vector<std::string>& exclude) {
  std::vector<std::string> selected;
  for (const auto& [name, tensor] : model.tensors) {
    if (tensor.shape().size() != 2 || name == names::kEmbedPositions) continue;  // norms, biases, positions
    if (std::any_of(exclude.begin(), exclude.end(), [&](const std::string& p) { return matchesNamePattern(name, p); }))
      continue;
    selected.push_back(name);
  }
  return selected;
}

}  // namespace slmc
