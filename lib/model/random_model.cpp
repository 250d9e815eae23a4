#include "lib/model/random_model.h"

#include "lib/support/file_util.h"

namespace slmc {

Model randomModel(const ModelConfig& config, uint64_t seed, float scale) {
  config.validate();
  Model model;
  model.config = config;
  model.source = "random(seed=" + std::to_string(seed) + ")";
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (const TensorSpec& spec : expectedTensors(config)) {
    std::vector<float> values(static_cast<size_t>(shapeNumel(spec.shape)));
    const bool norm = spec.name.find("norm") != std::string::npos;
    const bool bias = endsWith(spec.name, ".bias");
    for (float& v : values) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const float unit = static_cast<float>(state >> 40) / 16777216.0f;  // 24 random bits in [0, 1)
      v = norm ? (bias ? 0.0f : 1.0f) : (2.0f * unit - 1.0f) * scale;
    }
    model.tensors.set(spec.name, Tensor::fromFloats(spec.shape, std::move(values)));
  }
  return model;
}

}  // namespace slmc
