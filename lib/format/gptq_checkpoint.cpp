#include "lib/format/gptq_checkpoint.h"

#include <algorithm>

#include "lib/format/hf_linear_packing.h"
#include "lib/model/dtype.h"
#include "lib/model/quant_scheme.h"
#include "lib/support/error.h"

namespace slmc {

using nlohmann::json;

namespace {

constexpr const char* kOtherFormats =
    "export it with --quant-format compressed-tensors or slmc, or as a pack (--format pack)";

// The widths whose codes AutoGPTQ packs whole into int32 words (3-bit codes straddle words in a
// layout of their own).
bool packableBits(int bits) { return bits == 2 || bits == 4 || bits == 8; }

bool isHalfExact(float x) { return halfToFloat(floatToHalf(x)) == x; }

// The first reason the quantized weight `name` cannot be stored in GPTQ's layout, or "".
std::string obstacleOf(const std::string& name, const QuantizedTensor& q) {
  const std::string scheme = schemeName(q.scheme);
  const int bits = q.scheme.bits();
  if (!packableBits(bits))
    return "'" + name + "' is " + scheme + ", and GPTQ checkpoints hold 2-, 4- and 8-bit codes only (" +
           kOtherFormats + ")";
  const int64_t per_word = 32 / bits;
  if (q.cols % per_word != 0 || q.rows % per_word != 0)
    return "'" + name + "' is [" + std::to_string(q.rows) + ", " + std::to_string(q.cols) + "], and GPTQ packs " +
           std::to_string(per_word) + " " + std::to_string(bits) + "-bit codes per int32 along both dimensions, so each must be a "
           "multiple of " + std::to_string(per_word) + " (" + kOtherFormats + ")";
  if (!q.scheme.symmetric && std::find(q.zeros.begin(), q.zeros.end(), 0) != q.zeros.end())
    return "'" + name + "' (" + scheme + ") has a group with zero point 0, which a GPTQ checkpoint stores as zero - 1 "
           "and cannot hold (" + kOtherFormats + ")";
  for (float s : q.scales)
    if (!isHalfExact(s))
      return "'" + name + "' has a scale float16 cannot hold exactly, and GPTQ stores float16 scales (" + kOtherFormats + ")";
  return "";
}

}  // namespace

GptqExportability gptqExportability(const Model& model) {
  if (model.quantized.empty() && model.activation_quant.empty()) return {true, "no quantized weights: written as float"};
  GptqExportability no;
  if (!model.activation_quant.empty()) {
    const auto& [name, a] = *model.activation_quant.begin();
    no.detail = "'" + name + "' has int" + std::to_string(a.bits) +
                " quantized inputs, and GPTQ checkpoints are weight-only (" + kOtherFormats + ")";
    return no;
  }
  if (model.config.family == ArchFamily::GPT2) {
    no.detail = "'" + model.quantized.begin()->first +
                "' is a GPT-2 Conv1D weight, which slmc writes to GPTQ's layout for Llama-family models only (" +
                kOtherFormats + ")";
    return no;
  }
  const std::vector<std::string> linears = hfLinearWeights(model);
  const QuantizedTensor* first = nullptr;
  std::string first_name;
  // In checkpoint order, so the error names the first layer's tensor.
  for (const auto& [name, t] : model.tensors) {
    const bool linear = std::find(linears.begin(), linears.end(), name) != linears.end();
    auto it = model.quantized.find(name);
    if (it == model.quantized.end()) {
      if (linear && name != names::kLmHead) {
        no.detail = "'" + name + "' is float, and a GPTQ checkpoint quantizes every Linear of the decoder blocks "
                    "(quantize it too, or " + kOtherFormats + ")";
        return no;
      }
      continue;
    }
    const QuantizedTensor& q = *it->second;
    if (!linear || name == names::kLmHead) {
      no.detail = "'" + name + "' is quantized (" + schemeName(q.scheme) +
                  "), and GPTQ checkpoints quantize the decoder blocks' Linear weights only, not the embedding or "
                  "lm_head (keep it float, or " + kOtherFormats + ")";
      return no;
    }
    if (first == nullptr) {
      first = &q;
      first_name = name;
    } else if (!(q.scheme == first->scheme)) {
      no.detail = "'" + name + "' is " + schemeName(q.scheme) + " and '" + first_name + "' " + schemeName(first->scheme) +
                  ", and a GPTQ checkpoint has one scheme for the whole model (" + kOtherFormats + ")";
      return no;
    }
    no.detail = obstacleOf(name, q);
    if (!no.detail.empty()) return no;
  }
  return {true, std::to_string(model.quantized.size()) + " " + schemeName(first->scheme) + ", exact"};
}

json gptqQuantizationConfig(const Model& model) {
  const GptqExportability exportability = gptqExportability(model);
  require(exportability.possible, "cannot write a GPTQ checkpoint: " + exportability.detail);
  const QuantScheme& s = model.quantized.begin()->second->scheme;
  return {{"quant_method", "gptq"},
          {"bits", s.bits()},
          {"group_size", s.group_size > 0 ? s.group_size : -1},
          {"sym", s.symmetric},
          {"desc_act", false},
          {"static_groups", false},
          {"checkpoint_format", "gptq"},
          {"lm_head", false}};
}

std::vector<std::pair<std::string, Tensor>> gptqCheckpointTensors(const Model& model) {
  const GptqExportability exportability = gptqExportability(model);
  require(exportability.possible, "cannot write a GPTQ checkpoint: " + exportability.detail);
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, tensor] : model.tensors) {
    auto it = model.quantized.find(name);
    if (it == model.quantized.end()) {
      out.emplace_back(name, tensor);
      continue;
    }
    const QuantizedTensor& q = *it->second;
    const int bits = q.scheme.bits();
    const int64_t per_word = 32 / bits, groups = q.groups(), group_size = q.cols / groups;
    const std::string base = hfModuleOf(name);
    // Codes packed down each input column of the [in, out] transpose: pack the rows of the
    // [out, in] codes, then transpose the words.
    const std::vector<int32_t> by_row = packInt32Runs(q.codes, q.rows, q.cols, bits);
    const std::vector<int32_t> qweight = transposed(by_row, q.rows, q.cols / per_word);
    out.emplace_back(base + ".qweight", Tensor::copyOf(DType::I32, {q.cols / per_word, q.rows}, qweight.data()));
    // Zeros minus one, each group's row of zeros packed along the output dimension.
    std::vector<uint8_t> zeros_minus_one = transposed(q.zeros, q.rows, groups);
    for (uint8_t& z : zeros_minus_one) z = static_cast<uint8_t>(z - 1);  // z >= 1: gptqExportability
    const std::vector<int32_t> qzeros = packInt32Runs(zeros_minus_one, groups, q.rows, bits);
    out.emplace_back(base + ".qzeros", Tensor::copyOf(DType::I32, {groups, q.rows / per_word}, qzeros.data()));
    std::vector<uint16_t> scales(q.scales.size());
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t r = 0; r < q.rows; ++r)
        scales[static_cast<size_t>(g * q.rows + r)] = floatToHalf(q.scales[static_cast<size_t>(r * groups + g)]);
    out.emplace_back(base + ".scales", Tensor::copyOf(DType::F16, {groups, q.rows}, scales.data()));
    std::vector<int32_t> g_idx(static_cast<size_t>(q.cols));
    for (int64_t c = 0; c < q.cols; ++c) g_idx[static_cast<size_t>(c)] = static_cast<int32_t>(c / group_size);
    out.emplace_back(base + ".g_idx", Tensor::copyOf(DType::I32, {q.cols}, g_idx.data()));
  }
  return out;
}

}  // namespace slmc
