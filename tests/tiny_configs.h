// Architectures of the tiny random models unit tests build in memory (lib/model/random_model.h):
// small enough for hand computation, with the switches a test needs to exercise.
#pragma once

#include <cstdint>

#include "lib/model/model_config.h"

namespace slmc::test {

struct TinyShape {
  int64_t hidden = 32, intermediate = 48, layers = 1, heads = 4, kv_heads = 2, head_dim = 8, vocab = 64, ctx = 32;
  bool tied = false;
};

// Llama family: RMSNorm, rotary, SwiGLU, grouped-query attention when kv_heads < heads.
inline ModelConfig tinyLlamaConfig(const TinyShape& s = {}) {
  ModelConfig c;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.intermediate;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab;
  c.max_position_embeddings = s.ctx;
  c.tie_word_embeddings = s.tied;
  return c;
}

// GPT-2 family: LayerNorm, learned positions, GELU (tanh), biases everywhere, tied head, an
// MLP 4x the hidden size.
inline ModelConfig tinyGpt2Config(int64_t layers, int64_t vocab, int64_t ctx, int64_t hidden = 16,
                                  int64_t head_dim = 4) {
  ModelConfig c;
  c.architecture = "GPT2LMHeadModel";
  c.model_type = "gpt2";
  c.family = ArchFamily::GPT2;
  c.norm = NormType::LayerNorm;
  c.activation = Activation::GeluTanh;
  c.positions = PositionType::Learned;
  c.hidden_size = hidden;
  c.intermediate_size = 4 * hidden;
  c.num_layers = layers;
  c.num_heads = hidden / head_dim;
  c.num_kv_heads = hidden / head_dim;
  c.head_dim = head_dim;
  c.vocab_size = vocab;
  c.max_position_embeddings = ctx;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

}  // namespace slmc::test
