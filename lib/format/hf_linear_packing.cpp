#include "lib/format/hf_linear_packing.h"

#include "lib/support/file_util.h"

namespace slmc {

std::string hfModuleOf(const std::string& weight) {
  const std::string suffix = ".weight";
  return endsWith(weight, suffix) ? weight.substr(0, weight.size() - suffix.size()) : weight;
}

std::string hfWeightOnlyRefusal(const Model& model, const std::string& weight_only, const std::string& gpt2,
                                const std::string& alternatives) {
  if (!model.activation_quant.empty()) {
    const auto& [name, a] = *model.activation_quant.begin();
    return "'" + name + "' has int" + std::to_string(a.bits) + " quantized inputs, and " + weight_only + " weight-only (" +
           alternatives + ")";
  }
  if (model.config.family == ArchFamily::GPT2 && !model.quantized.empty())
    return "'" + model.quantized.begin()->first + "' is a GPT-2 Conv1D weight, " + gpt2 + " (" + alternatives + ")";
  return "";
}

std::vector<std::string> hfLinearWeights(const Model& model) {
  std::vector<std::string> out;
  for (const auto& [name, t] : model.tensors)
    if (t.shape().size() == 2 && name != names::kEmbedTokens && name != names::kEmbedPositions) out.push_back(name);
  if (!model.tensors.contains(names::kLmHead)) out.push_back(names::kLmHead);
  return out;
}

std::vector<int32_t> packInt32Runs(const std::vector<uint8_t>& values, int64_t rows, int64_t cols, int bits) {
  const int64_t per_word = 32 / bits, words = (cols + per_word - 1) / per_word;
  std::vector<int32_t> packed(static_cast<size_t>(rows * words));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < words; ++w) {
      uint32_t word = 0;
      for (int64_t j = 0; j < per_word && w * per_word + j < cols; ++j)
        word |= static_cast<uint32_t>(values[static_cast<size_t>(r * cols + w * per_word + j)]) << (j * bits);
      packed[static_cast<size_t>(r * words + w)] = static_cast<int32_t>(word);
    }
  return packed;
}

namespace {
template <typename T>
std::vector<T> transposedMatrix(const std::vector<T>& values, int64_t rows, int64_t cols) {
  std::vector<T> out(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = values[static_cast<size_t>(r * cols + c)];
  return out;
}
}  // namespace

std::vector<uint8_t> transposed(const std::vector<uint8_t>& values, int64_t rows, int64_t cols) {
  return transposedMatrix(values, rows, cols);
}
std::vector<int32_t> transposed(const std::vector<int32_t>& values, int64_t rows, int64_t cols) {
  return transposedMatrix(values, rows, cols);
}

}  // namespace slmc
