#include "lib/model/sparsity_record.h"

#include <cmath>

#include "lib/support/error.h"

namespace slmc {

using json = nlohmann::json;

namespace {
constexpr const char* kFormat = "slmc";
constexpr int kVersion = 1;

// "2:4" → {2, 4}; "unstructured" → {0, 0}.
bool parsePattern(const std::string& text, int& n, int& m) {
  if (text == "unstructured") {
    n = m = 0;
    return true;
  }
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  try {
    size_t used_n = 0, used_m = 0;
    n = std::stoi(text.substr(0, colon), &used_n);
    m = std::stoi(text.substr(colon + 1), &used_m);
    return used_n == colon && used_m == text.size() - colon - 1 && n > 0 && n < m;
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

namespace {
void importEntries(const json& record, Model& model, const std::string& origin);
}  // namespace

json sparsityRecord(const Model& model) {
  json weights = json::object();
  for (const auto& [name, s] : model.sparsity)
    weights[name] = {{"pattern", s.pattern()}, {"target", s.target}, {"method", s.method}};
  return {{"format", kFormat}, {"version", kVersion}, {"weights", weights}};
}

void importSparsityRecord(const json& record, Model& model, const std::string& origin) {
  try {
    importEntries(record, model, origin);
  } catch (const json::exception& e) {
    throw Error(origin + ": sparsity record is malformed (" + std::string(e.what()) + ")");
  }
  checkSparsityPatterns(model, origin);
}

namespace {
void importEntries(const json& record, Model& model, const std::string& origin) {
  const std::string what = origin + ": sparsity record";
  require(record.is_object() && record.value("format", "") == kFormat,
          what + " is not slmc's (\"format\": \"slmc\" expected; re-export the model with slmc)");
  require(record.value("version", 0) == kVersion,
          what + " has version " + record.value("version", json()).dump() + ", this slmc reads version " +
              std::to_string(kVersion) + " (upgrade slmc)");
  const json weights = record.value("weights", json::object());
  require(weights.is_object(), what + " \"weights\" is not an object");
  for (const auto& [name, spec] : weights.items()) {
    const std::string entry = what + " entry '" + name + "'";
    const Tensor* t = model.tensors.find(name);
    require(t != nullptr && t->shape().size() == 2, entry + " names no 2-D tensor of the model (damaged export)");
    SparsityInfo s;
    try {
      require(parsePattern(spec.at("pattern").get<std::string>(), s.n, s.m),
              entry + " has pattern " + spec.at("pattern").dump() + " (expected \"unstructured\" or \"N:M\" with 0 < N < M)");
      s.target = spec.at("target").get<double>();
      s.method = spec.at("method").get<std::string>();
    } catch (const json::exception& e) {
      throw Error(entry + " is malformed (" + e.what() + ")");
    }
    require(std::isfinite(s.target) && s.target >= 0 && s.target < 1, entry + " has a target outside [0, 1)");
    require(!s.isNM() || t->dim(1) % s.m == 0,
            entry + ": " + std::to_string(s.m) + " does not divide the row length " + std::to_string(t->dim(1)));
    model.sparsity[name] = s;
  }
}
}  // namespace

void checkSparsityPatterns(const Model& model, const std::string& origin) {
  for (const auto& [name, s] : model.sparsity) {
    const Tensor& t = model.tensors.at(name);
    if (!s.isNM()) continue;
    const std::vector<float> w = t.toFloats();
    const int64_t rows = t.dim(0), cols = t.dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = w.data() + r * cols;
      for (int64_t c = 0; c < cols; c += s.m) {
        int nonzero = 0;
        for (int j = 0; j < s.m; ++j) nonzero += row[c + j] != 0.0f;
        require(nonzero <= s.n, origin + ": '" + name + "' is recorded as " + s.pattern() + " sparse but row " +
                                    std::to_string(r) + ", columns " + std::to_string(c) + ".." +
                                    std::to_string(c + s.m - 1) + " hold " + std::to_string(nonzero) +
                                    " non-zeros (damaged or edited weights: prune the model again)");
      }
    }
  }
}

double zeroFraction(const Tensor& tensor) {
  if (tensor.numel() == 0) return 0;
  const std::vector<float> w = tensor.toFloats();
  int64_t zeros = 0;
  for (float v : w) zeros += v == 0.0f;
  return static_cast<double>(zeros) / static_cast<double>(w.size());
}

}  // namespace slmc
