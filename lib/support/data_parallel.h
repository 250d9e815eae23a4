// Which rank of a data-parallel run this process is, torchrun's convention: `world_size`
// processes (ranks 0..world_size-1) meet at master_addr:master_port, where rank 0 serves the
// rendezvous; `local_world_size` of them share this machine (its memory is split between them).
// LibTorch-free: commands fill it from flags or the environment, the distillation trainer joins
// the group with LibTorch's c10d (passes/distill/data_parallel_torch.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace slmc {

struct DataParallelGroup {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;

  bool distributed() const { return world_size > 1; }
};

// In the error of a rank that lost contact with the others (a consequence, not a cause: the
// launcher looks past it for the rank that failed first).
inline constexpr const char* kLostRanksMarker = "lost the other ranks";

// The group torchrun's environment variables describe (RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT); a single process when WORLD_SIZE is unset. A malformed or
// inconsistent value is one Error naming the variable.
DataParallelGroup dataParallelFromEnvironment();

// Throws the Error naming the field when the group is inconsistent (rank outside the world, a
// port outside 1..65535, an empty address).
void validateDataParallelGroup(const DataParallelGroup& group);

}  // namespace slmc
