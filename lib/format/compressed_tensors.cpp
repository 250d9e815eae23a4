#include "lib/format/compressed_tensors.h"

#include <algorithm>

#include "lib/format/hf_linear_packing.h"
#include "lib/format/stored_tensors.h"
#include "lib/model/quant_scheme.h"
#include "lib/model/sparsity_record.h"
#include "lib/support/error.h"
#include "lib/support/join_text.h"

namespace slmc {

using nlohmann::json;

namespace {

// The widths compressed-tensors' pack-quantized compressor claims (PackedQuantizationCompressor
// matches num_bits 4 and 8, the widths vLLM's kernels run).
bool packableBits(int bits) { return bits == 4 || bits == 8; }

// The quantized linears grouped by scheme, in checkpoint order of each scheme's first weight.
std::vector<std::pair<QuantScheme, std::vector<std::string>>> schemeGroups(const Model& model) {
  std::vector<std::pair<QuantScheme, std::vector<std::string>>> groups;
  for (const std::string& name : hfLinearWeights(model)) {
    auto it = model.quantized.find(name);
    if (it == model.quantized.end()) continue;
    const QuantScheme& scheme = it->second->scheme;
    auto g = groups.begin();
    while (g != groups.end() && !(g->first == scheme)) ++g;
    if (g == groups.end()) g = groups.insert(groups.end(), {scheme, {}});
    g->second.push_back(name);
  }
  return groups;
}

// compressed-tensors' QuantizationArgs of a weight scheme (only fields every release since the
// pack-quantized format knows: its QuantizationArgs forbids unknown keys).
json weightArgs(const QuantScheme& s) {
  const bool per_channel = s.group_size == 0;
  return {{"num_bits", s.bits()},
          {"type", "int"},
          {"symmetric", s.symmetric},
          {"strategy", per_channel ? "channel" : "group"},
          {"group_size", per_channel ? json(nullptr) : json(s.group_size)},
          {"block_structure", nullptr},
          {"dynamic", false},
          {"actorder", nullptr},
          {"observer", "minmax"},
          {"observer_kwargs", json::object()}};
}

// compressed-tensors' SparsityCompressionConfig for the "dense" format: the weights are stored
// as they are, the record says how sparse they are. `global_sparsity` is the zero fraction of all
// parameters, as llm-compressor computes it; one structure describes the model, so sparse layers
// of different patterns are "unstructured" (what every N:M layer also is).
json sparsityConfig(const Model& model) {
  std::string structure;
  for (const auto& [name, s] : model.sparsity) {
    if (structure.empty()) structure = s.pattern();
    if (structure != s.pattern()) structure = "unstructured";
  }
  double zeros = 0, total = 0;
  for (const auto& [name, t] : model.tensors) {
    zeros += zeroFraction(t) * static_cast<double>(t.numel());
    total += static_cast<double>(t.numel());
  }
  std::vector<std::string> dense;
  for (const std::string& name : hfLinearWeights(model))
    if (!model.sparsity.count(name)) dense.push_back(hfModuleOf(name));
  return {{"format", "dense"},
          {"global_sparsity", total > 0 ? zeros / total : 0.0},
          {"sparsity_structure", structure},
          {"targets", {"Linear"}},
          {"ignore", dense}};
}

constexpr const char* kOtherFormats = "export it with --quant-format slmc, or as a pack (--format pack)";

}  // namespace

CompressedTensorsExportability compressedTensorsExportability(const Model& model) {
  if (model.quantized.empty() && model.activation_quant.empty()) return {true, "no quantized weights: written as float"};
  CompressedTensorsExportability no;
  no.detail = hfWeightOnlyRefusal(model, "compressed-tensors' pack-quantized format is",
                                  "and compressed-tensors' pack-quantized format holds torch.nn.Linear weights only",
                                  kOtherFormats);
  if (!no.detail.empty()) return no;
  // In checkpoint order, so the error names the first layer's tensor.
  const std::vector<std::string> linears = hfLinearWeights(model);
  for (const auto& [name, t] : model.tensors) {
    auto it = model.quantized.find(name);
    if (it == model.quantized.end()) continue;
    const QuantizedTensor& q = *it->second;
    const std::string scheme = schemeName(q.scheme);
    if (std::find(linears.begin(), linears.end(), name) == linears.end()) {
      no.detail = "'" + name + "' is quantized (" + scheme +
                  "), and compressed-tensors' pack-quantized format holds Linear weights only, not the embedding "
                  "(keep it float, or " + kOtherFormats + ")";
      return no;
    }
    if (!packableBits(q.scheme.bits())) {
      no.detail = "'" + name + "' is " + scheme + ", and compressed-tensors' pack-quantized format holds 4- and 8-bit "
                  "integer weights only (" + kOtherFormats + ")";
      return no;
    }
  }
  std::vector<std::string> mix;
  for (const auto& [scheme, members] : schemeGroups(model))
    mix.push_back(std::to_string(members.size()) + " " + schemeName(scheme));
  return {true, joinText(mix) + ", exact"};
}

json compressedTensorsQuantizationConfig(const Model& model) {
  const CompressedTensorsExportability exportability = compressedTensorsExportability(model);
  require(exportability.possible, "cannot write compressed-tensors: " + exportability.detail);
  const auto groups = schemeGroups(model);
  json config_groups = json::object();
  for (size_t g = 0; g < groups.size(); ++g) {
    json targets = json::array();
    if (groups.size() == 1) {
      targets.push_back("Linear");
    } else {
      for (const std::string& name : groups[g].second) targets.push_back(hfModuleOf(name));
    }
    config_groups["group_" + std::to_string(g)] = {{"targets", targets},
                                                   {"weights", weightArgs(groups[g].first)},
                                                   {"input_activations", nullptr},
                                                   {"output_activations", nullptr}};
  }
  json ignore = json::array();
  for (const std::string& name : hfLinearWeights(model))
    if (!model.quantized.count(name)) ignore.push_back(hfModuleOf(name));
  json config = {{"quant_method", kCompressedTensorsQuantMethod},
                 {"format", kCompressedTensorsFormat},
                 {"quantization_status", "compressed"},
                 {"config_groups", config_groups},
                 {"ignore", ignore},
                 {"kv_cache_scheme", nullptr},
                 {"global_compression_ratio", nullptr},
                 {"version", kCompressedTensorsVersion}};
  if (!model.sparsity.empty()) config["sparsity_config"] = sparsityConfig(model);
  return config;
}

std::vector<std::pair<std::string, Tensor>> compressedTensorsCheckpointTensors(const Model& model) {
  const CompressedTensorsExportability exportability = compressedTensorsExportability(model);
  require(exportability.possible, "cannot write compressed-tensors: " + exportability.detail);
  return layoutTensors(model, [](const std::string& name, const QuantizedTensor& q, NamedTensors& out) {
    const int bits = q.scheme.bits();
    const int64_t per_word = 32 / bits, groups = q.groups();
    const std::string base = hfModuleOf(name);
    const std::vector<int32_t> codes = packInt32Runs(q.codes, q.rows, q.cols, bits);
    out.emplace_back(base + ".weight_packed",
                     Tensor::copyOf(DType::I32, {q.rows, (q.cols + per_word - 1) / per_word}, codes.data()));
    out.emplace_back(base + ".weight_scale", Tensor::fromFloats({q.rows, groups}, q.scales));
    if (!q.scheme.symmetric) {
      // pack_to_int32(zero_point, packed_dim=0): each group's column of zeros, packed down the rows.
      const int64_t words = (q.rows + per_word - 1) / per_word;
      const std::vector<int32_t> by_group = packInt32Runs(transposed(q.zeros, q.rows, groups), groups, q.rows, bits);
      const std::vector<int32_t> zeros = transposed(by_group, groups, words);
      out.emplace_back(base + ".weight_zero_point", Tensor::copyOf(DType::I32, {words, groups}, zeros.data()));
    }
    const int64_t shape[2] = {q.rows, q.cols};
    out.emplace_back(base + ".weight_shape", Tensor::copyOf(DType::I64, {2}, shape));
  });
}

}  // namespace slmc
