#include "lib/model/model_summary.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lib/model/model_size.h"

namespace slmc {

const char* paramKindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::Embedding: return "embedding";
    case ParamKind::Attention: return "attention";
    case ParamKind::Mlp: return "mlp";
    case ParamKind::Norm: return "norm";
    case ParamKind::Head: return "head";
  }
  return "?";
}

ParamKind classifyTensor(const std::string& name) {
  if (name == names::kLmHead) return ParamKind::Head;
  if (name.rfind("model.embed_", 0) == 0) return ParamKind::Embedding;
  if (name.find(".self_attn.") != std::string::npos) return ParamKind::Attention;
  if (name.find(".mlp.") != std::string::npos) return ParamKind::Mlp;
  return ParamKind::Norm;  // input/post-attention layer norms and the final norm
}

ModelSummary summarize(const Model& model) {
  ModelSummary s;
  for (const char* kind : {"embedding", "attention", "mlp", "norm", "head"}) s.params_by_kind[kind] = 0;
  for (const auto& [name, t] : model.tensors) {
    s.params_by_kind[paramKindName(classifyTensor(name))] += t.numel();
    s.bytes_by_dtype[dtypeName(t.dtype())] += static_cast<int64_t>(t.nbytes());
    s.total_params += t.numel();
    s.total_bytes += static_cast<int64_t>(t.nbytes());
  }
  return s;
}

namespace {
nlohmann::json configJson(const ModelConfig& c) {
  return {{"architecture", c.architecture},
          {"model_type", c.model_type},
          {"family", familyName(c.family)},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_layers", c.num_layers},
          {"num_heads", c.num_heads},
          {"num_kv_heads", c.num_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_position_embeddings},
          {"norm", c.norm == NormType::RMSNorm ? "rmsnorm" : "layernorm"},
          {"norm_eps", c.norm_eps},
          {"activation", c.activation == Activation::SiLU ? "silu" : "gelu_tanh"},
          {"positions", c.positions == PositionType::Rotary ? "rotary" : "learned"},
          {"rope_theta", c.rope_theta},
          {"qkv_bias", c.qkv_bias},
          {"tie_word_embeddings", c.tie_word_embeddings}};
}

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}
}  // namespace

std::string summaryJson(const Model& model, const ModelSummary& s, bool with_tensors) {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["source"] = model.source;
  j["config"] = configJson(model.config);
  j["params_by_kind"] = s.params_by_kind;
  j["bytes_by_dtype"] = s.bytes_by_dtype;
  j["total_params"] = s.total_params;
  j["total_bytes"] = s.total_bytes;  // as held in memory (quantized tensors dequantized)
  // As stored: quantized tensors at their packed size (what the artifact costs on disk).
  const ModelSize stored = modelSize(model);
  j["stored_bytes"] = stored.bytes;
  j["bits_per_weight"] = stored.bits_per_weight;
  j["quantized_tensors"] = model.quantized.size();
  if (with_tensors) {
    j["tensors"] = nlohmann::json::array();
    for (const auto& [name, t] : model.tensors)
      j["tensors"].push_back({{"name", name}, {"dtype", dtypeName(t.dtype())}, {"shape", t.shape()},
                              {"kind", paramKindName(classifyTensor(name))}, {"bytes", t.nbytes()}});
  }
  return j.dump(2) + "\n";
}

std::string summaryText(const Model& model, const ModelSummary& s, bool with_tensors) {
  const ModelConfig& c = model.config;
  std::ostringstream o;
  o << "model        " << model.source << "\n"
    << "architecture " << c.architecture << " (" << familyName(c.family) << " family)\n"
    << "layers       " << c.num_layers << ", hidden " << c.hidden_size << ", mlp " << c.intermediate_size << "\n"
    << "heads        " << c.num_heads << " q / " << c.num_kv_heads << " kv, head_dim " << c.head_dim << "\n"
    << "vocab        " << c.vocab_size << ", context " << c.max_position_embeddings
    << (c.tie_word_embeddings ? ", tied embeddings" : "") << "\n"
    << "positions    " << (c.positions == PositionType::Rotary ? "rotary, theta " : "learned")
    << (c.positions == PositionType::Rotary ? std::to_string(static_cast<int64_t>(c.rope_theta)) : "") << "\n"
    << "norm         " << (c.norm == NormType::RMSNorm ? "RMSNorm" : "LayerNorm") << ", eps " << c.norm_eps << "\n"
    << "parameters   " << s.total_params << "\n";
  for (const auto& [kind, n] : s.params_by_kind)
    if (n) o << "  " << kind << std::string(11 - kind.size(), ' ') << n << "\n";
  if (model.quantized.empty()) {
    o << "size         " << human(static_cast<double>(s.total_bytes)) << " (" << s.total_bytes << " bytes)\n";
    for (const auto& [dtype, n] : s.bytes_by_dtype)
      o << "  " << dtype << std::string(11 - dtype.size(), ' ') << n << " bytes\n";
  } else {
    // The bytes stored (packed codes + scales), not the dequantized floats slmc computes with.
    const ModelSize stored = modelSize(model);
    char bits[32];
    std::snprintf(bits, sizeof bits, "%.2f", stored.bits_per_weight);
    o << "size         " << human(static_cast<double>(stored.bytes)) << " (" << stored.bytes << " bytes stored, "
      << bits << " bits per weight; " << model.quantized.size() << " quantized tensors)\n"
      << "  in memory  " << s.total_bytes << " bytes (quantized tensors dequantized to float32)\n";
  }
  if (with_tensors) {
    o << "tensors\n";
    for (const auto& [name, t] : model.tensors)
      o << "  " << name << "  " << dtypeName(t.dtype()) << " " << shapeString(t.shape()) << "\n";
  }
  return o.str();
}

}  // namespace slmc
