#include "runtime/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace slmc::runtime {

ReadBandwidth measureReadBandwidth(int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  constexpr size_t kWords = (size_t{1} << 30) / sizeof(uint64_t), kChunk = (size_t{16} << 20) / sizeof(uint64_t);
  // Left uninitialised by new[] so that the parallel fill is the first touch of every page.
  const std::unique_ptr<uint64_t[]> buffer(new uint64_t[kWords]);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < kWords; ++i) buffer[i] = i;

  volatile uint64_t sink = 0;  // keeps the sums (and so the reads) from being optimised away
  const auto readChunk = [&](size_t k) {
    const uint64_t* p = buffer.get() + k % (kWords / kChunk) * kChunk;
    uint64_t sum = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < kChunk; ++i) sum += p[i];
    sink = sink + sum;
  };
  size_t k = 0;
  readChunk(k++);  // warm-up: starts the thread team
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 5 || std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    const auto t0 = Clock::now();
    readChunk(k++);
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double bytes = static_cast<double>(kChunk * sizeof(uint64_t));
  return {bytes / times.front() / 1e9, bytes / times[times.size() / 2] / 1e9};
}

}  // namespace slmc::runtime
