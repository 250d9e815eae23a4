// Internal (LibTorch): while a CpuBlockCache::Scope lives, LibTorch's CPU tensors of 1 MiB and
// more come from a cache of freed blocks of the same size instead of fresh pages.
//
// Why: glibc serves blocks over 32 MiB with mmap and returns them with munmap, so every training
// step's [tokens, vocab] logits, softmaxes and their gradients (131 MB each at 4 x 256 tokens of
// a 32,000-token vocabulary) arrive as new pages the kernel zero-fills: on the stories15M-shaped
// bench that was ~30% of a distillation step (clear_page and page faults in the profile). The
// steps allocate the same sizes each time, so exact-size reuse catches them.
#pragma once

#include <cstddef>

namespace slmc::distill {

class CpuBlockCache {
 public:
  // Installs the caching allocator for LibTorch's CPU device; the destructor puts the previous
  // one back and frees the cached blocks (blocks still in use are freed when their tensors go).
  class Scope {
   public:
    explicit Scope(size_t max_cached_bytes);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };
};

}  // namespace slmc::distill
