// The architecture of a decoder-only language model: the switches of slmc's one generic decoder
// (norm, activation, positions, biases, grouped-query attention, tied embeddings) plus the
// Hugging Face identity it was read from, so it can be written back.
#pragma once

#include <cstdint>
#include <string>

namespace slmc {

enum class ArchFamily { Llama, GPT2 };  // Llama: Llama, Mistral, Qwen2, SmolLM, TinyLlama
enum class NormType { RMSNorm, LayerNorm };
enum class Activation { SiLU, GeluTanh };  // SwiGLU gate for Llama; gelu_new for GPT-2
enum class PositionType { Rotary, Learned };

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  // HF `architectures[0]`
  std::string model_type = "llama";               // HF `model_type`
  ArchFamily family = ArchFamily::Llama;
  NormType norm = NormType::RMSNorm;
  Activation activation = Activation::SiLU;
  PositionType positions = PositionType::Rotary;

  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool qkv_bias = false;      // Qwen2, GPT-2
  bool o_bias = false;        // GPT-2
  bool mlp_bias = false;      // GPT-2
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;

  int64_t kvDim() const { return num_kv_heads * head_dim; }
  bool gatedMlp() const { return family == ArchFamily::Llama; }
  // Throws Error when the numbers do not describe a runnable decoder.
  void validate() const;
};

// Parses a Hugging Face config.json text; `origin` names the file in error messages.
// Unsupported architectures are rejected naming the supported ones.
ModelConfig parseHfConfig(const std::string& json_text, const std::string& origin);
// The config.json that transformers reads back into the same architecture.
std::string hfConfigJson(const ModelConfig& config);

const char* familyName(ArchFamily family);

}  // namespace slmc
