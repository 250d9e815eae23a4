// The in-memory model every pass works on: architecture config + named tensors in a stable
// order. Tensor names follow Hugging Face's Llama layout for every family (GPT-2's fused,
// transposed Conv1D weights are split and transposed on import), so passes see one layout:
// every linear weight is [out_features, in_features].
#pragma once

#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/model/model_config.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/tensor.h"

namespace slmc {

// Name → tensor, iterated in insertion order (the order checkpoints are written in).
class TensorMap {
 public:
  void set(const std::string& name, Tensor tensor);  // inserts or replaces in place
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const Tensor& at(const std::string& name) const;  // throws Error naming the missing tensor
  const Tensor* find(const std::string& name) const;
  bool erase(const std::string& name);
  size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<std::pair<std::string, Tensor>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Fake quantization of a linear layer's input (W8A8): the reference forward rounds the input to
// `bits`-bit symmetric integers before the product. Static: one per-tensor scale chosen on
// calibration data; dynamic: a scale per token (row) from that row's max |x|.
struct ActivationQuant {
  // The widths an artifact may hold (checkpoint and pack readers, the runtime, which codes
  // activations as int8 at most), and the wider range the reference forward simulates for
  // experiments (fake quantization in float: any width up to 16 is exact there).
  static constexpr int kMinBits = 2, kMaxBits = 8, kMaxSimulatedBits = 16;
  static bool validBits(int64_t b) { return b >= kMinBits && b <= kMaxBits; }

  int bits = 8;
  bool dynamic = true;
  float scale = 0;  // static only: value of one integer step

  bool operator==(const ActivationQuant& o) const {
    return bits == o.bits && dynamic == o.dynamic && scale == o.scale;
  }
};

// Sparsity a pruning pass left in a weight. The mask is the weight's zeros: a pruned weight is
// exactly 0 in `tensors` and, once quantized, its code is the group's zero point (so it still
// dequantizes to exactly 0). Recorded so later passes keep the zeros (quantize) and so exports
// can state the pattern, which readers check.
struct SparsityInfo {
  // N:M: at most n non-zeros in every m consecutive weights of a row (2:4, 4:8); m = 0:
  // unstructured.
  int n = 0;
  int m = 0;
  double target = 0;   // requested fraction of zeros (N:M: 1 - n/m)
  std::string method;  // "magnitude", "wanda", "sparsegpt"

  bool isNM() const { return m > 0; }
  std::string pattern() const;  // "2:4" or "unstructured"
  bool operator==(const SparsityInfo& o) const { return n == o.n && m == o.m && target == o.target && method == o.method; }
};

struct Model {
  ModelConfig config;
  TensorMap tensors;
  std::string source;  // where it was loaded from (provenance)
  // Quantization state. For every name here, tensors[name] holds exactly quantized[name]
  // ->dequantize() (F32), so the reference forward and every measurement see the quantized model.
  std::map<std::string, std::shared_ptr<const QuantizedTensor>> quantized;
  // Linear weight name → quantizer of that linear's input (absent: float input).
  std::map<std::string, ActivationQuant> activation_quant;
  // Linear weight name → the sparsity pruning left in it (absent: dense).
  std::map<std::string, SparsityInfo> sparsity;
  // Float tensors that hold the exact dequantization of a quantized source type (a GGUF's Q4_1,
  // Q8_0, ...), set by the loader: written at bfloat16 by default (lib/format/float_dtype.h).
  std::set<std::string> dequantized_from_source;

  // Replaces a linear weight by its quantized form (and its dequantized float in `tensors`).
  void setQuantized(const std::string& name, QuantizedTensor q);

  // The weight a linear layer uses for the output head: lm_head, or the embedding when tied.
  const Tensor& outputWeight() const;
};

struct TensorSpec {
  std::string name;
  Shape shape;
};

// Canonical tensor names. Layer-local names take the layer index.
namespace names {
std::string layer(int64_t i, const std::string& rest);  // "model.layers.<i>.<rest>"
inline const char* kEmbedTokens = "model.embed_tokens.weight";
inline const char* kEmbedPositions = "model.embed_positions.weight";
inline const char* kFinalNorm = "model.norm";
inline const char* kLmHead = "lm_head.weight";
}  // namespace names

// Every tensor the config implies, with its shape, in checkpoint order.
std::vector<TensorSpec> expectedTensors(const ModelConfig& config);

// The same model with its tensors in expectedTensors() order, then any others in their current
// order (so validateModel can name them). Readers call it so that every format yields the same
// model whatever order its file stores tensors in.
Model inCanonicalOrder(const Model& model);

// Checks that the tensors are exactly the expected ones with the expected shapes, float dtypes
// and finite values. Throws Error naming the first offending tensor and the fix.
void validateModel(const Model& model);

}  // namespace slmc
