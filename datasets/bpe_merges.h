// The BPE merge loop shared by every slmc tokenizer: a table (left id, right id) → (rank, merged
// id) and an exact, fast application of it to a symbol sequence. The pair with the lowest rank
// merges first; among equal ranks the leftmost pair merges first. That one rule is both Hugging
// Face's (rank = position in `merges`) and SentencePiece's / llama2.c's (rank = order of the
// merged piece's score, equal scores sharing a rank: both scan left to right and keep the first
// best pair).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace slmc {

// Working memory for BpeMerges::apply, reused across calls so that encoding a long text does
// not allocate per word.
struct BpeScratch {
  struct Candidate {
    uint32_t rank;
    uint32_t left;      // position of the left symbol (symbols merge into their left neighbour)
    int32_t left_id;    // ids when the candidate was queued: a changed id means it is stale
    int32_t right_id;
  };
  std::vector<Candidate> heap;
  std::vector<int32_t> next;
  std::vector<int32_t> prev;
};

class BpeMerges {
 public:
  struct Merge {
    uint32_t rank;
    int32_t merged;
  };

  // Registers a merge; when the pair is already known the lower rank wins (a later duplicate in
  // a merges list never applies, as in Hugging Face tokenizers).
  void add(int32_t left, int32_t right, uint32_t rank, int32_t merged);
  const Merge* find(int32_t left, int32_t right) const;
  size_t size() const { return size_; }

  // Merges `symbols` in place until no adjacent pair has a merge. O(n log n): a min-heap of
  // candidate pairs over a linked list of symbols, stale candidates dropped when popped.
  void apply(std::vector<int32_t>& symbols, BpeScratch& scratch) const;

 private:
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t keyOf(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  size_t slotOf(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  void grow();

  // Open addressing with linear probing: pair lookups dominate encoding time.
  std::vector<Slot> slots_;
  size_t size_ = 0;
  int shift_ = 64;
};

}  // namespace slmc
