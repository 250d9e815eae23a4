#include "runtime/generation_timing.h"

#include <algorithm>
#include <chrono>

namespace slmc::runtime {

std::vector<int32_t> benchmarkPrompt(const ModelConfig& c, int64_t length) {
  std::vector<int32_t> prompt(static_cast<size_t>(length));
  if (prompt.empty()) return prompt;
  prompt[0] = static_cast<int32_t>(std::clamp<int64_t>(c.bos_token_id, 0, c.vocab_size - 1));
  for (size_t i = 1; i < prompt.size(); ++i)
    prompt[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13) % c.vocab_size);
  return prompt;
}

GenerationSpeed timeGeneration(Transformer& model, const std::vector<int32_t>& prompt, int64_t steps) {
  using Clock = std::chrono::steady_clock;
  const int64_t vocab = model.config().vocab_size;
  model.reset();
  model.step(prompt[0]);
  model.reset();
  const auto t0 = Clock::now();
  const float* logits = model.prefill(prompt.data(), static_cast<int64_t>(prompt.size()));
  const auto t1 = Clock::now();
  for (int64_t i = 0; i < steps; ++i)
    logits = model.step(static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits));
  const auto t2 = Clock::now();
  return {static_cast<double>(prompt.size()) / std::chrono::duration<double>(t1 - t0).count(),
          static_cast<double>(steps) / std::chrono::duration<double>(t2 - t1).count()};
}

}  // namespace slmc::runtime
