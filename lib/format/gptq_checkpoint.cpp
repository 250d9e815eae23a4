#include "lib/format/gptq_checkpoint.h"

#include <algorithm>
#include <map>

#include "lib/format/hf_linear_packing.h"
#include "lib/format/stored_tensors.h"
#include "lib/model/dtype.h"
#include "lib/model/quant_scheme.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

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
  no.detail = hfWeightOnlyRefusal(model, "GPTQ checkpoints are",
                                  "which slmc writes to GPTQ's layout for Llama-family models only", kOtherFormats);
  if (!no.detail.empty()) return no;
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
  return {{"quant_method", kGptqQuantMethod},
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
  return layoutTensors(model, [](const std::string& name, const QuantizedTensor& q, NamedTensors& out) {
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
  });
}

namespace {

// Unpacks `rows` runs of `cols` `bits`-bit values from int32 words laid out as packInt32Runs writes them.
std::vector<uint8_t> unpackInt32Runs(const int32_t* words, int64_t rows, int64_t cols, int bits) {
  const int64_t per_word = 32 / bits, words_per_run = cols / per_word;
  const uint32_t mask = (1u << bits) - 1;
  std::vector<uint8_t> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[static_cast<size_t>(r * cols + c)] = static_cast<uint8_t>(
          (static_cast<uint32_t>(words[r * words_per_run + c / per_word]) >> ((c % per_word) * bits)) & mask);
  return out;
}

template <typename T>
std::vector<T> valuesOf(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.bytes(), v.size() * sizeof(T));
  return v;
}

bool allZero(const Tensor& t) {
  for (float v : t.toFloats())
    if (v != 0.0f) return false;
  return true;
}

}  // namespace

void importGptqTensors(const json& qc, std::vector<std::pair<std::string, Tensor>>& raw_list, Model& model,
                       const std::string& origin) {
  int bits = 0;
  int64_t group_size = 0;
  std::string format;
  require(qc.contains("bits"), origin + ": GPTQ quantization_config has no 'bits' (damaged config.json; re-export the checkpoint)");
  try {
    bits = qc.at("bits").get<int>();
    group_size = qc.value("group_size", int64_t{-1});
    format = qc.value("checkpoint_format", std::string("gptq"));
  } catch (const json::exception& e) {
    throw Error(origin + ": GPTQ quantization_config is malformed (" + e.what() + ")");
  }
  require(packableBits(bits), origin + ": GPTQ checkpoint has " + std::to_string(bits) +
                                  "-bit codes; slmc reads 2-, 4- and 8-bit GPTQ checkpoints");
  require(format == "gptq" || format == "gptq_v2",
          origin + ": GPTQ checkpoint_format '" + format + "' is not read (slmc reads gptq and gptq_v2)");
  require(group_size == -1 || group_size > 0,
          origin + ": GPTQ group_size " + std::to_string(group_size) + " is invalid (-1 or a positive column count)");
  // v1 checkpoints store each zero minus one (AutoGPTQ's packing), v2 the zero itself.
  const int zero_offset = format == "gptq" ? 1 : 0;
  const int64_t per_word = 32 / bits;
  const std::string method = std::to_string(bits) + "-bit GPTQ";

  std::map<std::string, Shape> expected;
  for (const TensorSpec& spec : expectedTensors(model.config)) expected.emplace(spec.name, spec.shape);
  StoredTensors stored(raw_list);
  std::map<std::string, Tensor>& raw = stored.by_name;
  const std::vector<std::string>& order = stored.order;
  const auto take = [&](const std::string& name, DType dtype, const Shape& shape) {
    return stored.take(name, dtype, shape, origin, "GPTQ checkpoint");
  };
  std::map<std::string, QuantizedTensor> quantized;
  for (const std::string& qweight_name : order) {
    if (!endsWith(qweight_name, ".qweight")) continue;
    const std::string base = qweight_name.substr(0, qweight_name.size() - std::string(".qweight").size());
    const std::string name = base + ".weight";
    auto spec = expected.find(name);
    require(spec != expected.end() && spec->second.size() == 2,
            origin + ": GPTQ tensor '" + qweight_name + "' is not a linear of this architecture");
    const int64_t rows = spec->second[0], cols = spec->second[1];
    require(cols % per_word == 0 && rows % per_word == 0,
            origin + ": '" + name + "' is [" + std::to_string(rows) + ", " + std::to_string(cols) +
                "], which " + method + " words do not divide (corrupt GPTQ checkpoint)");
    const int64_t gs = group_size > 0 ? group_size : cols;
    require(cols % gs == 0, origin + ": GPTQ group_size " + std::to_string(group_size) + " does not divide the " +
                                std::to_string(cols) + " columns of '" + name + "'; slmc reads whole groups only");
    const int64_t groups = cols / gs;
    const Tensor qweight = take(qweight_name, DType::I32, {cols / per_word, rows});
    const Tensor qzeros = take(base + ".qzeros", DType::I32, {groups, rows / per_word});
    const Tensor scales = take(base + ".scales", DType::F16, {groups, rows});
    if (raw.count(base + ".g_idx") != 0) {
      const std::vector<int32_t> g_idx = valuesOf<int32_t>(take(base + ".g_idx", DType::I32, {cols}));
      for (int64_t c = 0; c < cols; ++c)
        require(g_idx[static_cast<size_t>(c)] == c / gs,
                origin + ": '" + base + ".g_idx' puts column " + std::to_string(c) + " in group " +
                    std::to_string(g_idx[static_cast<size_t>(c)]) + ", not " + std::to_string(c / gs) +
                    ": an act-order (desc_act) checkpoint with its permutation, which slmc, whose groups are runs "
                    "of columns, does not read (quantize the float model with slmc instead)");
    }
    // A bias buffer AutoGPTQ writes for a layer the architecture has without one holds zeros.
    if (raw.count(base + ".bias") != 0 && expected.count(base + ".bias") == 0) {
      require(allZero(raw.at(base + ".bias")),
              origin + ": '" + base + ".bias' is non-zero, and this architecture's '" + name + "' has no bias");
      raw.erase(base + ".bias");
    }
    QuantizedTensor q;
    q.rows = rows;
    q.cols = cols;
    // Codes are packed down the input dimension of the [in, out] transpose.
    const std::vector<int32_t> by_row = transposed(valuesOf<int32_t>(qweight), cols / per_word, rows);
    q.codes = unpackInt32Runs(by_row.data(), rows, cols, bits);
    const std::vector<uint8_t> zeros_by_group =
        unpackInt32Runs(valuesOf<int32_t>(qzeros).data(), groups, rows, bits);
    q.zeros = transposed(zeros_by_group, groups, rows);
    const int max_code = maxCode(bits);
    bool symmetric = true;
    for (uint8_t& z : q.zeros) {
      const int zero = z + zero_offset;
      require(zero <= max_code, origin + ": '" + name + "' has a zero point of " + std::to_string(zero) +
                                    ", outside the " + std::to_string(bits) +
                                    "-bit grid (AutoGPTQ's v1 packing of a zero point 0); slmc does not read it");
      z = static_cast<uint8_t>(zero);
      symmetric = symmetric && zero == 1 << (bits - 1);
    }
    const std::vector<float> by_group = scales.toFloats();
    q.scales.resize(by_group.size());
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t r = 0; r < rows; ++r)
        q.scales[static_cast<size_t>(r * groups + g)] = by_group[static_cast<size_t>(g * rows + r)];
    q.scheme = QuantScheme(bits, group_size > 0 ? gs : 0, symmetric);
    quantized.emplace(name, std::move(q));
  }
  require(!quantized.empty(), origin + ": GPTQ checkpoint has no .qweight tensors (corrupt or not a GPTQ checkpoint)");
  for (const std::string& name : order) {
    auto it = raw.find(name);
    if (it == raw.end()) continue;
    if (name == names::kLmHead && model.config.tie_word_embeddings) continue;  // a tied copy
    if (endsWith(name, "rotary_emb.inv_freq")) continue;                      // recomputed
    model.tensors.set(name, it->second);
  }
  for (auto& [name, q] : quantized) {
    require(!model.tensors.contains(name),
            origin + ": tensor '" + name + "' is stored both as float and quantized (corrupt GPTQ checkpoint)");
    q.validate(name);
    model.tensors.set(name, q.dequantize());
    model.quantized[name] = std::make_shared<const QuantizedTensor>(std::move(q));
  }
  raw_list.clear();
}

}  // namespace slmc
