#include "lib/reference/cpu_block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

namespace slmc {

namespace {

constexpr size_t kMinCached = size_t{1} << 20;  // smaller blocks: glibc's heap reuses them already
constexpr uint8_t kPriority = 1;                // above LibTorch's own CPU allocator (0)

struct BlockCache {
  std::mutex mutex;
  std::unordered_map<void*, size_t> live;  // blocks handed out, by address: their sizes
  std::multimap<size_t, void*> free;       // freed blocks, by size
  size_t cached = 0, max_cached = 0;
  int depth = 0;  // Scopes alive: the outermost installs and uninstalls; 0: freed blocks go back
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache;  // never destroyed: tensors may outlive static destructors
  return *c;
}

void release(void* p) {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  const auto it = c.live.find(p);
  if (it == c.live.end()) {  // a small block of the fallback's, freed through raw_deleter()
    c10::free_cpu(p);
    return;
  }
  const size_t n = it->second;
  c.live.erase(it);
  if (c.depth > 0 && c.cached + n <= c.max_cached) {
    c.free.emplace(n, p);
    c.cached += n;
  } else {
    c10::free_cpu(p);
  }
}

struct CachingAllocator final : c10::Allocator {
  c10::Allocator* fallback = nullptr;

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) return fallback->allocate(n);
    BlockCache& c = cache();
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      const auto it = c.free.find(n);
      if (it != c.free.end()) {
        p = it->second;
        c.free.erase(it);
        c.cached -= n;
      }
    }
    if (!p) p = c10::alloc_cpu(n);
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      c.live.emplace(p, n);
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  // raw_allocate()/raw_deallocate() (oneDNN's bfloat16 products use them) free through this:
  // every DataPtr here has its data as context, the fallback's small blocks included (LibTorch's
  // default CPU allocator takes them from alloc_cpu, which `release` frees).
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator;
  return *a;
}

}  // namespace

CpuBlockCache::Scope::Scope(size_t max_cached_bytes) {
  CachingAllocator& a = allocator();
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.max_cached = std::max(c.max_cached, max_cached_bytes);
  if (c.depth++ > 0) return;  // nested (calibration inside a pipeline that already caches)
  a.fallback = c10::GetAllocator(c10::DeviceType::CPU);
  c10::SetAllocator(c10::DeviceType::CPU, &a, kPriority);
}

CpuBlockCache::Scope::~Scope() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (--c.depth > 0) return;
  c10::SetAllocator(c10::DeviceType::CPU, allocator().fallback, kPriority);
  c.max_cached = 0;
  for (const auto& [n, p] : c.free) c10::free_cpu(p);
  c.free.clear();
  c.cached = 0;
}

}  // namespace slmc
