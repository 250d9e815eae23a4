#include "lib/format/quantized_checkpoint.h"

#include <cstring>
#include <map>

#include "lib/format/stored_tensors.h"
#include "lib/model/bit_packing.h"
#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc {

using nlohmann::json;

bool isQuantizedModel(const Model& model) { return !model.quantized.empty() || !model.activation_quant.empty(); }

json quantizationConfig(const Model& model) {
  json weights = json::object(), activations = json::object();
  for (const auto& [name, q] : model.quantized)
    weights[name] = {{"bits", q->scheme.bits()}, {"group_size", q->scheme.group_size}, {"symmetric", q->scheme.symmetric}};
  for (const auto& [name, a] : model.activation_quant)
    activations[name] = {{"bits", a.bits}, {"dynamic", a.dynamic}, {"scale", a.scale}};
  return {{"quant_method", kSlmcQuantMethod},
          {"format_version", kSlmcQuantFormatVersion},
          {"code_packing", "lsb-first bit stream per row, rows byte-aligned"},
          {"weights", weights},
          {"activations", activations}};
}

namespace {

constexpr const char* kFormat = "quantized checkpoint";  // how errors name this layout

Tensor u8Tensor(Shape shape, const std::vector<uint8_t>& bytes) {
  return Tensor::copyOf(DType::U8, std::move(shape), bytes.data());
}

Tensor f16Tensor(Shape shape, const std::vector<float>& values) {
  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < values.size(); ++i) half[i] = floatToHalf(values[i]);
  return Tensor::copyOf(DType::F16, std::move(shape), half.data());
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> quantizedCheckpointTensors(const Model& model) {
  return layoutTensors(model, [](const std::string& name, const QuantizedTensor& q, NamedTensors& out) {
    const int bits = q.scheme.bits();
    out.emplace_back(name + ".qcodes",
                     u8Tensor({q.rows, packedRowBytes(q.cols, bits)}, packCodes(q.codes.data(), q.rows, q.cols, bits)));
    out.emplace_back(name + ".scales", f16Tensor({q.rows, q.groups()}, q.scales));
    if (!q.scheme.symmetric)
      out.emplace_back(name + ".qzeros", u8Tensor({q.rows, packedRowBytes(q.groups(), bits)},
                                                  packCodes(q.zeros.data(), q.rows, q.groups(), bits)));
  });
}

void importQuantizedTensors(const json& qc, std::vector<std::pair<std::string, Tensor>>& raw_list, Model& model,
                            const std::string& origin) {
  const std::string method = qc.value("quant_method", std::string("?"));
  require(method == kSlmcQuantMethod,
          origin + ": quantization_config.quant_method '" + method +
              "' is not supported (slmc reads float checkpoints, GPTQ and its own quantized output; dequantize it first)");
  const int version = qc.value("format_version", 0);
  require(version == kSlmcQuantFormatVersion, origin + ": slmc quantized format version " + std::to_string(version) +
                                                  " is not supported by this slmc (expects " +
                                                  std::to_string(kSlmcQuantFormatVersion) + "; upgrade slmc)");
  StoredTensors stored(raw_list);
  std::map<std::string, Tensor>& raw = stored.by_name;
  const json weights = qc.value("weights", json::object());
  std::map<std::string, QuantizedTensor> quantized;
  for (const auto& [name, spec] : weights.items()) {
    QuantizedTensor q;
    int bits = 0;
    int64_t group_size = 0;
    bool symmetric = true;
    try {
      bits = spec.at("bits").get<int>();
      group_size = spec.at("group_size").get<int64_t>();
      symmetric = spec.at("symmetric").get<bool>();
    } catch (const json::exception& e) {
      throw Error(origin + ": quantization_config entry for '" + name + "' is malformed (" + e.what() + ")");
    }
    q.scheme = QuantScheme(bits, group_size, symmetric);  // refuses a width no grid type has
    auto codes_it = raw.find(name + ".qcodes");
    require(codes_it != raw.end(), origin + ": quantized checkpoint has no tensor '" + name + ".qcodes'");
    require(codes_it->second.shape().size() == 2 && codes_it->second.dtype() == DType::U8,
            origin + ": tensor '" + name + ".qcodes' must be a 2-D U8 tensor");
    q.rows = codes_it->second.dim(0);
    auto scales_it = raw.find(name + ".scales");
    require(scales_it != raw.end() && scales_it->second.shape().size() == 2,
            origin + ": quantized checkpoint has no 2-D tensor '" + name + ".scales'");
    // The column count comes from the float shape the config implies.
    int64_t cols = -1;
    for (const TensorSpec& s : expectedTensors(model.config))
      if (s.name == name && s.shape.size() == 2) cols = s.shape[1];
    require(cols > 0, origin + ": quantized tensor '" + name + "' is not a 2-D weight of this architecture");
    q.cols = cols;
    const int64_t groups = scales_it->second.dim(1);
    require(groups > 0 && cols % groups == 0,
            origin + ": '" + name + ".scales' has " + std::to_string(groups) + " groups per row, which do not divide " +
                std::to_string(cols) + " columns (corrupt quantized checkpoint)");
    const bool per_channel = q.scheme.group_size == 0 && groups == 1;
    require(per_channel || q.scheme.group_size == cols / groups,
            origin + ": '" + name + "' declares group_size " + std::to_string(q.scheme.group_size) + " but stores " +
                std::to_string(groups) + " groups per row of " + std::to_string(cols));
    const Tensor codes = stored.take(name + ".qcodes", DType::U8, {q.rows, packedRowBytes(cols, bits)}, origin, kFormat);
    const Tensor scales = stored.take(name + ".scales", DType::F16, {q.rows, groups}, origin, kFormat);
    q.codes = unpackCodes(reinterpret_cast<const uint8_t*>(codes.bytes()), q.rows, cols, bits);
    q.scales = scales.toFloats();
    if (q.scheme.symmetric) {
      q.zeros.assign(static_cast<size_t>(q.rows * groups), static_cast<uint8_t>(1 << (bits - 1)));
    } else {
      const Tensor zeros = stored.take(name + ".qzeros", DType::U8, {q.rows, packedRowBytes(groups, bits)}, origin, kFormat);
      q.zeros = unpackCodes(reinterpret_cast<const uint8_t*>(zeros.bytes()), q.rows, groups, bits);
    }
    quantized.emplace(name, std::move(q));
  }
  // Float tensors in file order, then each quantized weight's dequantized float.
  for (const std::string& name : stored.order) {
    auto it = raw.find(name);
    if (it != raw.end()) model.tensors.set(name, it->second);
  }
  for (auto& [name, q] : quantized) {
    require(!model.tensors.contains(name),
            origin + ": tensor '" + name + "' is stored both as float and quantized (corrupt quantized checkpoint)");
    model.tensors.set(name, q.dequantize());
    model.quantized[name] = std::make_shared<const QuantizedTensor>(std::move(q));
  }
  for (auto& [name, q] : model.quantized) q->validate(name);
  const json activations = qc.value("activations", json::object());
  for (const auto& [name, spec] : activations.items()) {
    ActivationQuant a;
    try {
      a.bits = spec.at("bits").get<int>();
      a.dynamic = spec.at("dynamic").get<bool>();
      a.scale = spec.at("scale").get<float>();
    } catch (const json::exception& e) {
      throw Error(origin + ": quantization_config activation entry for '" + name + "' is malformed (" + e.what() + ")");
    }
    require(ActivationQuant::validBits(a.bits) && (a.dynamic || a.scale > 0),
            origin + ": activation quantizer of '" + name + "' is invalid (bits 2..8, a positive static scale)");
    model.activation_quant[name] = a;
  }
  raw_list.clear();
}

}  // namespace slmc
