// `slmc distill --nproc N`: what torchrun does on one machine. Starts N copies of this binary with
// the command's own arguments (less --nproc) and torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT: a free port), and waits.
// Rank 0 keeps the terminal (progress, summary); the others run quiet. Every rank's error line
// goes to a file of the launcher's, which prints one line for the run: the rank that was killed,
// else the first error that is not a rank losing contact with the one that failed. When a rank
// fails, the others are stopped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

// Set in each rank's environment: the file its error line goes to instead of stderr (runCli).
inline constexpr const char* kRankErrorFileVariable = "SLMC_RANK_ERROR_FILE";

struct RankLaunch {
  int64_t nproc = 1;
  std::vector<std::string> argv;  // this process's arguments, argv[0] first; --nproc is dropped
  int threads = 0;                // --threads as given (0: each rank gets cores / nproc)
  std::string checkpoint_dir;     // where the run's checkpoints go ("" : none), named in the failure line
};

struct RankOutcome {
  int exit_code = 0;  // the failing rank's (1 for a rank killed by a signal)
  // When exit_code != 0: the one line that says why ("error: …", as runCli prints it, less "slmc: ").
  std::string failure;
};

RankOutcome launchLocalRanks(const RankLaunch& launch);

// argv without "--nproc N" / "--nproc=N".
std::vector<std::string> withoutNproc(const std::vector<std::string>& argv);

}  // namespace slmc
