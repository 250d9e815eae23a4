#include "lib/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "lib/support/error.h"

namespace slmc {

using nlohmann::json;

const char* familyName(ArchFamily family) { return family == ArchFamily::Llama ? "llama" : "gpt2"; }

void ModelConfig::validate() const {
  const auto positive = [](int64_t v, const char* name) {
    require(v > 0, std::string("model config: ") + name + " must be positive, got " + std::to_string(v));
  };
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_layers, "num_hidden_layers");
  positive(num_heads, "num_attention_heads");
  positive(num_kv_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(vocab_size, "vocab_size");
  positive(max_position_embeddings, "max_position_embeddings");
  // Far above any small LM, low enough that products of two sizes cannot overflow int64.
  constexpr int64_t kMaxSize = int64_t{1} << 24;
  const std::pair<const char*, int64_t> sizes[] = {{"hidden_size", hidden_size},
                                                   {"intermediate_size", intermediate_size},
                                                   {"num_hidden_layers", num_layers},
                                                   {"num_attention_heads", num_heads},
                                                   {"num_key_value_heads", num_kv_heads},
                                                   {"head_dim", head_dim},
                                                   {"vocab_size", vocab_size},
                                                   {"max_position_embeddings", max_position_embeddings}};
  for (const auto& [name, v] : sizes)
    require(v <= kMaxSize, std::string("model config: ") + name + " " + std::to_string(v) +
                               " is implausibly large (at most " + std::to_string(kMaxSize) + ")");
  require(num_kv_heads <= num_heads, "model config: num_key_value_heads (" + std::to_string(num_kv_heads) +
                                         ") exceeds num_attention_heads (" + std::to_string(num_heads) + ")");
  require(num_heads % num_kv_heads == 0,
          "model config: num_attention_heads (" + std::to_string(num_heads) +
              ") is not a multiple of num_key_value_heads (" + std::to_string(num_kv_heads) + ")");
  require(positions != PositionType::Rotary || head_dim % 2 == 0,
          "model config: rotary embeddings need an even head_dim, got " + std::to_string(head_dim));
  require(std::isfinite(norm_eps) && norm_eps > 0 && norm_eps < 1, "model config: the norm epsilon must be in (0, 1)");
  require(std::isfinite(rope_theta) && rope_theta > 0, "model config: rope_theta must be a positive number");
}

namespace {

// A value of the kind T, checked before conversion: nlohmann would turn 1e9 or true into an
// integer and 3.7 into 3 without a word. Integers must be JSON integers within int64, floats
// finite numbers, booleans true/false, strings strings.
template <typename T>
T convert(const json& v, const char* key, const std::string& origin) {
  const auto wrong = [&](const char* kind) {
    return Error(origin + ": \"" + key + "\" has the wrong type: it must be " + kind + ", not " + v.dump() +
                 " (fix the config)");
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw wrong("true or false");
    return v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw wrong("a string");
    return v.get<std::string>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) throw wrong("an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw wrong("an integer in range");
    return v.get<T>();
  } else {
    if (!v.is_number() || !std::isfinite(v.get<double>())) throw wrong("a finite number");
    return v.get<T>();
  }
}

template <typename T>
T field(const json& j, const char* key, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    throw Error(origin + ": missing \"" + key + "\" (is this a Hugging Face config.json?)");
  return convert<T>(*it, key, origin);
}

template <typename T>
T fieldOr(const json& j, const char* key, T fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return convert<T>(*it, key, origin);
}

// eos_token_id may be a list in newer configs; the first one is the end-of-text token.
int64_t tokenId(const json& j, const char* key, int64_t fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_array()) return it->empty() ? fallback : convert<int64_t>((*it)[0], key, origin);
  return convert<int64_t>(*it, key, origin);
}

ModelConfig parseLlamaFamily(const json& j, const std::string& arch, const std::string& origin) {
  ModelConfig c;
  c.architecture = arch;
  c.model_type = fieldOr<std::string>(j, "model_type", "llama", origin);
  c.family = ArchFamily::Llama;
  c.norm = NormType::RMSNorm;
  c.positions = PositionType::Rotary;
  const auto act = fieldOr<std::string>(j, "hidden_act", "silu", origin);
  require(act == "silu", origin + ": hidden_act '" + act + "' is not supported for " + arch + " (slmc runs silu)");
  c.activation = Activation::SiLU;
  c.hidden_size = field<int64_t>(j, "hidden_size", origin);
  c.intermediate_size = field<int64_t>(j, "intermediate_size", origin);
  c.num_layers = field<int64_t>(j, "num_hidden_layers", origin);
  c.num_heads = field<int64_t>(j, "num_attention_heads", origin);
  c.num_kv_heads = fieldOr<int64_t>(j, "num_key_value_heads", c.num_heads, origin);
  // Without head_dim, heads split hidden_size evenly (Hugging Face's default): a remainder is a
  // damaged config, not a smaller head.
  require(j.contains("head_dim") || c.num_heads <= 0 || c.hidden_size % c.num_heads == 0,
          origin + ": hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
              std::to_string(c.num_heads) + " and no head_dim is given (fix the config)");
  c.head_dim = fieldOr<int64_t>(j, "head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0, origin);
  c.vocab_size = field<int64_t>(j, "vocab_size", origin);
  c.max_position_embeddings = fieldOr<int64_t>(j, "max_position_embeddings", 2048, origin);
  c.norm_eps = fieldOr<double>(j, "rms_norm_eps", 1e-6, origin);
  c.rope_theta = fieldOr<double>(j, "rope_theta", 10000.0, origin);
  const auto scaling = j.find("rope_scaling");
  require(scaling == j.end() || scaling->is_null(),
          origin + ": rope_scaling is not supported yet (remove it or use a model without it)");
  c.qkv_bias = fieldOr<bool>(j, "attention_bias", arch == "Qwen2ForCausalLM", origin);
  c.o_bias = arch == "Qwen2ForCausalLM" ? false : c.qkv_bias;
  c.mlp_bias = fieldOr<bool>(j, "mlp_bias", false, origin);
  c.tie_word_embeddings = fieldOr<bool>(j, "tie_word_embeddings", false, origin);
  return c;
}

ModelConfig parseGpt2(const json& j, const std::string& origin) {
  ModelConfig c;
  c.architecture = "GPT2LMHeadModel";
  c.model_type = "gpt2";
  c.family = ArchFamily::GPT2;
  c.norm = NormType::LayerNorm;
  c.positions = PositionType::Learned;
  const auto act = fieldOr<std::string>(j, "activation_function", "gelu_new", origin);
  require(act == "gelu_new" || act == "gelu_pytorch_tanh",
          origin + ": activation_function '" + act + "' is not supported for GPT-2 (slmc runs gelu_new)");
  c.activation = Activation::GeluTanh;
  c.hidden_size = field<int64_t>(j, "n_embd", origin);
  c.num_layers = field<int64_t>(j, "n_layer", origin);
  c.num_heads = field<int64_t>(j, "n_head", origin);
  c.num_kv_heads = c.num_heads;
  require(c.num_heads <= 0 || c.hidden_size % c.num_heads == 0,
          origin + ": n_embd " + std::to_string(c.hidden_size) + " is not a multiple of n_head " +
              std::to_string(c.num_heads) + " (fix the config)");
  c.head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
  c.intermediate_size = fieldOr<int64_t>(j, "n_inner", 4 * std::min<int64_t>(c.hidden_size, int64_t{1} << 40), origin);
  c.vocab_size = field<int64_t>(j, "vocab_size", origin);
  c.max_position_embeddings = field<int64_t>(j, "n_positions", origin);
  c.norm_eps = fieldOr<double>(j, "layer_norm_epsilon", 1e-5, origin);
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.tie_word_embeddings = fieldOr<bool>(j, "tie_word_embeddings", true, origin);
  require(!fieldOr<bool>(j, "scale_attn_by_inverse_layer_idx", false, origin) &&
              !fieldOr<bool>(j, "reorder_and_upcast_attn", false, origin),
          origin + ": GPT-2 attention variants (scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are not supported");
  require(fieldOr<bool>(j, "scale_attn_weights", true, origin),
          origin + ": scale_attn_weights=false is not supported");
  c.bos_token_id = tokenId(j, "bos_token_id", 50256, origin);
  c.eos_token_id = tokenId(j, "eos_token_id", 50256, origin);
  return c;
}

}  // namespace

ModelConfig parseHfConfig(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e705
    throw Error(origin + ": not valid JSON (" + e.what() + ")");
  }
  require(j.is_object(), origin + ": expected a JSON object");
  std::string arch;
  if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
    arch = (*it)[0].get<std::string>();
  const std::string model_type = fieldOr<std::string>(j, "model_type", "", origin);
  if (arch.empty()) {  // some configs name only the model type
    if (model_type == "llama") arch = "LlamaForCausalLM";
    if (model_type == "mistral") arch = "MistralForCausalLM";
    if (model_type == "qwen2") arch = "Qwen2ForCausalLM";
    if (model_type == "gpt2") arch = "GPT2LMHeadModel";
  }
  ModelConfig c;
  if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM" || arch == "Qwen2ForCausalLM") {
    c = parseLlamaFamily(j, arch, origin);
    c.bos_token_id = tokenId(j, "bos_token_id", 1, origin);
    c.eos_token_id = tokenId(j, "eos_token_id", 2, origin);
    if (arch == "MistralForCausalLM") {
      const auto window = j.find("sliding_window");
      const bool active = window != j.end() && window->is_number_integer() &&
                          window->get<int64_t>() < c.max_position_embeddings;
      require(!active, origin + ": Mistral sliding-window attention shorter than the context is not supported");
    }
  } else if (arch == "GPT2LMHeadModel") {
    c = parseGpt2(j, origin);
  } else {
    throw Error(origin + ": unsupported architecture '" + (arch.empty() ? model_type : arch) +
                "' (slmc supports LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel)");
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  return c;
}

std::string hfConfigJson(const ModelConfig& c) {
  json j;
  j["architectures"] = {c.architecture};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["torch_dtype"] = "float32";
  if (c.family == ArchFamily::GPT2) {
    j["n_embd"] = c.hidden_size;
    j["n_layer"] = c.num_layers;
    j["n_head"] = c.num_heads;
    j["n_inner"] = c.intermediate_size;
    j["n_positions"] = c.max_position_embeddings;
    j["n_ctx"] = c.max_position_embeddings;
    j["layer_norm_epsilon"] = c.norm_eps;
    j["activation_function"] = "gelu_new";
  } else {
    j["hidden_size"] = c.hidden_size;
    j["intermediate_size"] = c.intermediate_size;
    j["num_hidden_layers"] = c.num_layers;
    j["num_attention_heads"] = c.num_heads;
    j["num_key_value_heads"] = c.num_kv_heads;
    j["head_dim"] = c.head_dim;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["rms_norm_eps"] = c.norm_eps;
    j["rope_theta"] = c.rope_theta;
    j["hidden_act"] = "silu";
    if (c.architecture != "Qwen2ForCausalLM") {
      j["attention_bias"] = c.qkv_bias;
      j["mlp_bias"] = c.mlp_bias;
    }
  }
  return j.dump(2) + "\n";
}

}  // namespace slmc
