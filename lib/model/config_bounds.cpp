#include "lib/model/config_bounds.h"

#include <limits>

#include "lib/support/error.h"

namespace slmc {

namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

uint64_t mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kSaturated : r;
}
uint64_t add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? kSaturated : r;
}
uint64_t u(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

}  // namespace

uint64_t impliedParameterCount(const ModelConfig& c) {
  const uint64_t h = u(c.hidden_size), f = u(c.intermediate_size), q = mul(u(c.num_heads), u(c.head_dim));
  const uint64_t kv = mul(u(c.num_kv_heads), u(c.head_dim));
  // Per layer: q, k, v, o projections and the MLP (two or three matrices); norms and biases are
  // a rounding error and left out so the bound never exceeds what expectedTensors lists.
  uint64_t layer = add(add(mul(q, h), mul(2, mul(kv, h))), mul(h, q));
  layer = add(layer, mul(c.gatedMlp() ? 3 : 2, mul(f, h)));
  uint64_t total = mul(layer, u(c.num_layers));
  total = add(total, mul(u(c.vocab_size), h));  // the token embedding
  if (c.positions == PositionType::Learned) total = add(total, mul(u(c.max_position_embeddings), h));
  if (!c.tie_word_embeddings) total = add(total, mul(u(c.vocab_size), h));
  return total;
}

void checkConfigFitsWeights(const ModelConfig& c, uint64_t tensor_count, uint64_t tensor_bytes,
                            const std::string& origin, const ConfigFieldNames& names) {
  // Every layer has tensors of its own.
  require(c.num_layers <= 0 || static_cast<uint64_t>(c.num_layers) <= tensor_count,
          origin + ": " + names.layers + " is " + std::to_string(c.num_layers) + " but the weights hold only " +
              std::to_string(tensor_count) + " tensors (the config does not match the weights; fix " +
              names.layers + " or use the config that came with them)");
  const uint64_t params = impliedParameterCount(c);
  const uint64_t capacity = mul(tensor_bytes, 8);  // 1 bit per weight: below any storage slmc reads
  require(params <= capacity,
          origin + ": the config implies " + (params == kSaturated ? std::string("more than 2^64") : std::to_string(params)) +
              " parameters (" + names.layers + " " + std::to_string(c.num_layers) + ", " + names.hidden + " " +
              std::to_string(c.hidden_size) + ", " + names.intermediate + " " + std::to_string(c.intermediate_size) +
              ", " + names.vocab + " " + std::to_string(c.vocab_size) + ") but the weights hold only " +
              std::to_string(tensor_bytes) + " bytes (the config does not match the weights; use the config that "
              "came with them)");
}

}  // namespace slmc
