#include "datasets/sampler.h"

#include <algorithm>
#include <numeric>

#include "datasets/sample_builder.h"
#include "lib/support/error.h"

namespace slmc {

uint64_t uniformBelow(std::mt19937_64& rng, uint64_t n) {
  require(n > 0, "uniformBelow: the range must not be empty");
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n, in 64-bit arithmetic
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

Reservoir::Reservoir(int64_t capacity, uint64_t seed) : capacity_(capacity), rng_(seed) {
  require(capacity >= 1, "the number of samples must be at least 1");
}

int64_t Reservoir::offer() {
  const int64_t i = seen_++;
  if (i < capacity_) return i;
  const uint64_t j = uniformBelow(rng_, static_cast<uint64_t>(i) + 1);
  return j < static_cast<uint64_t>(capacity_) ? static_cast<int64_t>(j) : -1;
}

std::vector<int64_t> sampleIndices(int64_t n, int64_t k, uint64_t seed) {
  require(k <= n, "asked for " + std::to_string(k) + " samples but only " + std::to_string(n) + " are available");
  std::vector<int64_t> chosen(static_cast<size_t>(k == 0 ? n : k));
  if (k == 0) {
    std::iota(chosen.begin(), chosen.end(), int64_t{0});
    return chosen;
  }
  Reservoir reservoir(k, seed);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t slot = reservoir.offer();
    if (slot >= 0) chosen[static_cast<size_t>(slot)] = i;
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

TokenSamples sampleTokens(DocumentReader& reader, const Tokenizer& tokenizer, const SamplerOptions& options) {
  require(options.seq_len >= 1, "--seq-len must be at least 1");
  require(options.num_samples >= 0, "--samples must not be negative");
  const auto L = static_cast<size_t>(options.seq_len);
  SampleStream stream(reader, tokenizer, options.seq_len);
  TokenSamples out;
  out.seq_len = options.seq_len;
  std::vector<int32_t> sample;
  const auto requireSomeSample = [&] {
    require(out.candidates > 0, "the input holds " + std::to_string(stream.tokens()) +
                                    " tokens, fewer than one sample of --seq-len " + std::to_string(options.seq_len) +
                                    " (lower --seq-len or add data)");
  };
  if (options.num_samples == 0) {
    while (stream.next(sample)) {
      out.ids.insert(out.ids.end(), sample.begin(), sample.end());
      out.stream_indices.push_back(out.candidates++);
    }
    requireSomeSample();
  } else {
    // Slots hold the chosen samples in reservoir order; sorted by stream index at the end.
    Reservoir reservoir(options.num_samples, options.seed);
    std::vector<std::vector<int32_t>> slots;
    std::vector<int64_t> slot_index;
    while (stream.next(sample)) {
      const int64_t slot = reservoir.offer();
      ++out.candidates;
      if (slot < 0) continue;
      if (slot == static_cast<int64_t>(slots.size())) {
        slots.push_back(sample);
        slot_index.push_back(out.candidates - 1);
      } else {
        slots[static_cast<size_t>(slot)] = sample;
        slot_index[static_cast<size_t>(slot)] = out.candidates - 1;
      }
    }
    requireSomeSample();
    require(out.candidates >= options.num_samples,
            "--samples " + std::to_string(options.num_samples) + " is more than the data provides: " +
                std::to_string(out.candidates) + " samples of " + std::to_string(options.seq_len) + " tokens (" +
                std::to_string(stream.tokens()) + " tokens in all); lower --samples or --seq-len, or add data");
    std::vector<size_t> order(slots.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slot_index[a] < slot_index[b]; });
    out.ids.reserve(order.size() * L);
    for (size_t s : order) {
      out.ids.insert(out.ids.end(), slots[s].begin(), slots[s].end());
      out.stream_indices.push_back(slot_index[s]);
    }
  }
  out.documents = stream.documents();
  out.tokens = stream.tokens();
  out.dropped_tail_tokens = stream.droppedTailTokens();
  out.files = reader.filesRead();
  return out;
}

TokenSamples calibrationSamples(const Tokenizer& tokenizer, const std::vector<std::string>& inputs,
                                const TextSourceOptions& text, const SamplerOptions& options) {
  DocumentReader reader(expandInputs(inputs), text);
  return sampleTokens(reader, tokenizer, options);
}

}  // namespace slmc
