// The causal attention runs in blocks of query rows: rows [begin, begin + rows) attend to keys
// [0, keys), skipping most of the masked half of the scores. One definition for the forward
// (reference_decoder_torch.cpp), its FLOP count and the benchmark's matmul baseline, so they use
// the same shapes. LibTorch-free.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace slmc {

struct AttentionBlock {
  int64_t begin, rows, keys;
};

inline std::vector<AttentionBlock> causalAttentionBlocks(int64_t seq) {
  constexpr int64_t kRows = 64;
  std::vector<AttentionBlock> blocks;
  for (int64_t begin = 0; begin < seq; begin += kRows) {
    const int64_t rows = std::min(kRows, seq - begin);
    blocks.push_back({begin, rows, begin + rows});
  }
  return blocks;
}

}  // namespace slmc
