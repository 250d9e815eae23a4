#include "datasets/bpe_merges.h"

#include <algorithm>

namespace slmc {

void BpeMerges::grow() {
  std::vector<Slot> old = std::move(slots_);
  const size_t capacity = old.empty() ? 1024 : old.size() * 2;
  slots_.assign(capacity, Slot{});
  shift_ = 64;
  for (size_t c = capacity; c > 1; c >>= 1) --shift_;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = slotOf(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = s;
  }
}

void BpeMerges::add(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = keyOf(left, right);
  size_t i = slotOf(key);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) {
      if (rank < slots_[i].merge.rank) slots_[i].merge = {rank, merged};
      return;
    }
    i = (i + 1) & (slots_.size() - 1);
  }
  slots_[i] = {key, {rank, merged}};
  ++size_;
}

const BpeMerges::Merge* BpeMerges::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t key = keyOf(left, right);
  size_t i = slotOf(key);
  while (true) {
    const Slot& s = slots_[i];
    if (s.key == key) return &s.merge;
    if (s.key == kEmpty) return nullptr;
    i = (i + 1) & (slots_.size() - 1);
  }
}

namespace {
// Min-heap order on (rank, left position): std::push_heap keeps the "largest" on top.
struct Later {
  bool operator()(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};
}  // namespace

void BpeMerges::apply(std::vector<int32_t>& symbols, BpeScratch& scratch) const {
  const size_t n = symbols.size();
  if (n < 2) return;
  if (n == 2) {  // the most common case in word-level encoding: no heap needed
    if (const Merge* m = find(symbols[0], symbols[1])) symbols = {m->merged};
    return;
  }
  auto& heap = scratch.heap;
  auto& next = scratch.next;
  auto& prev = scratch.prev;
  heap.clear();
  next.resize(n);
  prev.resize(n);
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
    prev[i] = static_cast<int32_t>(i) - 1;
  }
  const auto push = [&](int32_t left, int32_t right) {
    if (const Merge* m = find(symbols[left], symbols[right])) {
      heap.push_back({m->rank, static_cast<uint32_t>(left), symbols[left], symbols[right]});
      std::push_heap(heap.begin(), heap.end(), Later{});
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));

  // A symbol's id only changes by growing into a longer piece, so "same ids at the same
  // positions" proves a queued candidate is still current. Removed symbols get id -1.
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    const BpeScratch::Candidate c = heap.back();
    heap.pop_back();
    const int32_t left = static_cast<int32_t>(c.left);
    if (symbols[left] != c.left_id) continue;
    const int32_t right = next[left];
    if (right < 0 || symbols[right] != c.right_id) continue;
    symbols[left] = find(c.left_id, c.right_id)->merged;
    symbols[right] = -1;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    if (prev[left] >= 0) push(prev[left], left);
    if (next[left] >= 0) push(left, next[left]);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i)
    if (symbols[i] >= 0) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace slmc
