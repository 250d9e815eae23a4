// Seeded choice of calibration samples, reproducible on every platform.
//
// Algorithm (the spec the golden tests pin):
//  - Random numbers: std::mt19937_64 seeded with `seed` (the standard fixes its output sequence
//    exactly, unlike std::uniform_int_distribution, whose mapping is implementation-defined).
//  - uniformBelow(rng, n): draw x = rng() until x >= (2^64 mod n), return x mod n. Rejecting the
//    lowest (2^64 mod n) values leaves a multiple of n equally likely values: unbiased.
//  - Selection: reservoir sampling (Vitter's Algorithm R) over the candidates in stream order
//    0, 1, 2, …: candidates 0..k-1 fill slots 0..k-1; candidate i >= k draws j = uniformBelow(rng,
//    i+1) and replaces slot j when j < k. One pass, memory for k samples, each candidate kept
//    with probability k/N. The chosen samples are returned in stream order.
//  - k = 0 means "all candidates", in order, without drawing. k larger than the number of
//    candidates is an error (there is no way to honour it without repeating samples).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "datasets/text_source.h"
#include "datasets/tokenizer.h"

namespace slmc {

uint64_t uniformBelow(std::mt19937_64& rng, uint64_t n);

// Algorithm R, one candidate at a time.
class Reservoir {
 public:
  Reservoir(int64_t capacity, uint64_t seed);
  // Offers the next candidate (index seen()); returns the slot it goes into, or -1 if not kept.
  int64_t offer();
  int64_t seen() const { return seen_; }
  int64_t capacity() const { return capacity_; }

 private:
  int64_t capacity_;
  int64_t seen_ = 0;
  std::mt19937_64 rng_;
};

// Indices of k of n candidates chosen by the reservoir above, ascending (k = 0: all).
std::vector<int64_t> sampleIndices(int64_t n, int64_t k, uint64_t seed);

struct SamplerOptions {
  int64_t num_samples = 0;  // k; 0: every sample the data provides
  int64_t seq_len = 0;      // L
  uint64_t seed = 0;
};

struct TokenSamples {
  int64_t seq_len = 0;
  std::vector<int32_t> ids;             // [num_samples, seq_len], row-major
  std::vector<int64_t> stream_indices;  // which sample of the stream each row is (ascending)
  int64_t candidates = 0;               // samples the data provides (N)
  int64_t documents = 0;
  int64_t tokens = 0;  // ids in the stream, dropped tail included
  int64_t dropped_tail_tokens = 0;
  std::vector<SourceFile> files;  // what was read, with sha256

  int64_t numSamples() const { return static_cast<int64_t>(stream_indices.size()); }
};

// k samples of L ids from the documents of `reader`, cut by the boundary policy of
// sample_builder.h and chosen by the algorithm above. Streams: reads every document once and keeps
// only the k chosen samples in memory.
TokenSamples sampleTokens(DocumentReader& reader, const Tokenizer& tokenizer, const SamplerOptions& options);

// The entry point for passes that need calibration data: files or directories in, samples out.
TokenSamples calibrationSamples(const Tokenizer& tokenizer, const std::vector<std::string>& inputs,
                                const TextSourceOptions& text, const SamplerOptions& options);

}  // namespace slmc
