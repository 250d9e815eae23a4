// While a CpuBlockCache::Scope lives, LibTorch's CPU tensors of 1 MiB and
// more come from a cache of freed blocks of the same size instead of fresh pages.
//
// Why: glibc serves blocks over 32 MiB with mmap and returns them with munmap, so every training
// step's [tokens, vocab] logits, softmaxes and their gradients (131 MB each at 4 x 256 tokens of
// a 32,000-token vocabulary) arrive as new pages the kernel zero-fills: on the stories15M-shaped
// bench that was ~30% of a distillation step (clear_page and page faults in the profile). The
// steps allocate the same sizes each time, so exact-size reuse catches them. The same holds for
// the reference forward's batches in eval and in layer-wise calibration. This header needs no
// LibTorch; the implementation (cpu_block_cache_torch.cpp) is in slmc_reference.
#pragma once

#include <cstddef>

namespace slmc {

class CpuBlockCache {
 public:
  // Installs the caching allocator for LibTorch's CPU device, keeping at most max_cached_bytes
  // of free blocks; the destructor puts the previous one back and frees the cached blocks
  // (blocks still in use are freed when their tensors go). Scopes nest: the outermost one
  // installs and uninstalls, the largest cap holds.
  class Scope {
   public:
    explicit Scope(size_t max_cached_bytes);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };
};

}  // namespace slmc
