// What the tests of the Hugging Face quantized exports (compressed-tensors, GPTQ) share: a model
// with its block linears quantized, the exported tensors read back by name, and the int32 words
// both layouts pack codes into, unpacked independently of slmc's writer.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lib/format/hf_checkpoint.h"
#include "lib/format/safetensors.h"
#include "lib/model/model.h"
#include "lib/model/quantized_tensor.h"
#include "tests/test_support.h"

namespace slmc::test {

// `m` with every decoder-block linear quantized by RTN on `scheme`; rows the group does not
// divide (stories260K's down_proj, 172 columns) fall back to per-channel, as the quantize pass does.
inline Model quantizedBlocks(Model m, const QuantScheme& scheme) {
  std::vector<std::string> linears;
  for (const auto& [name, t] : m.tensors)
    if (t.shape().size() == 2 && name.rfind("model.layers.", 0) == 0) linears.push_back(name);
  for (const std::string& name : linears) {
    const Tensor& t = m.tensors.at(name);
    QuantScheme s = scheme;
    if (s.group_size > 0 && t.dim(1) % s.group_size != 0) s.group_size = 0;
    const std::vector<float> w = t.toFloats();
    m.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), s));
  }
  return m;
}

inline std::map<std::string, Tensor> readTensors(const std::string& path) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : readSafetensors(path).tensors) out.emplace(name, std::move(t));
  return out;
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.bytes(), v.size() * sizeof(T));
  return v;
}

inline bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// "….mlp.up_proj.weight" -> "….mlp.up_proj", written here rather than taken from the exporter.
inline std::string moduleOf(const std::string& weight) {
  return weight.substr(0, weight.size() - std::string(".weight").size());
}

// Value `index_in_word` of an int32 word of `bits`-bit values: bits [index * bits, (index + 1) * bits).
inline int unpackedInt32(int32_t word, int64_t index_in_word, int bits) {
  return static_cast<int>((static_cast<uint32_t>(word) >> (index_in_word * bits)) & ((1u << bits) - 1));
}

// Exporting `m` in `format` into dir/out fails with one line holding `expected` and the
// `alternative` formats, and leaves `dir` empty (no output, no staging directory).
inline void checkRefusedExport(const Model& m, HfQuantFormat format, const ScratchDir& dir, const std::string& expected,
                               const std::string& alternative) {
  const std::string error = errorOf([&] { saveHfDirectory(m, dir / "out", format); });
  checkError(error, expected);
  checkError(error, alternative);
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
  CHECK(dir.entries() == 0);
}

}  // namespace slmc::test
