// The memory read bandwidth of this machine, measured the way STREAM does: generation reads every
// weight once per token, so this is the ceiling the runtime's generation speed is compared with
// (tokens/s x weight bytes per token ÷ this = the fraction of the bandwidth the kernels reach).
#pragma once

namespace slmc::runtime {

// GB/s (1e9 bytes per second) of reading memory.
struct ReadBandwidth {
  double best_gbps = 0;    // the fastest read: the memory's own speed (other work only slows a read)
  double median_gbps = 0;  // the median read: what sharing the machine costs
};

// Fills a 1 GiB buffer (far larger than any last-level cache) and then, for at least `seconds`
// (and at least 5 times, after one warm-up), sums the 64-bit words of its next 16 MiB chunk with
// `threads` OpenMP threads: each read comes from memory, not cache, and lasts about as long as
// one large matmul, so its speed is comparable with a kernel's. Returns the fastest and the
// median read. Allocates and frees the buffer on every call.
ReadBandwidth measureReadBandwidth(int threads, double seconds);

}  // namespace slmc::runtime
