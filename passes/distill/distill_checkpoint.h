// A distillation checkpoint: one directory holding everything a run needs to continue bit for
// bit:
//   state.json             format tag and version, the step reached, the run's fingerprint
//                          (options, shapes, data checksum), the data cursor and RNG, and the
//                          loss curve so far;
//   student.safetensors    the student's float32 weights, by Hugging Face name;
//   optimizer.safetensors  AdamW's moments (<name>.exp_avg, <name>.exp_avg_sq).
// A checkpoint is built beside the target (DIR.tmp) and renamed over it, so a run killed at any
// moment leaves either the previous checkpoint or the new one, never a mix.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/tensor.h"

namespace slmc {

inline constexpr int kDistillCheckpointVersion = 1;

struct DistillCheckpoint {
  nlohmann::json state;
  std::vector<std::pair<std::string, Tensor>> weights;
  std::vector<std::pair<std::string, Tensor>> optimizer;
};

void writeDistillCheckpoint(const std::string& dir, const DistillCheckpoint& checkpoint);
// Throws Error for a directory that is missing, is not a distillation checkpoint, or has another
// format version.
DistillCheckpoint readDistillCheckpoint(const std::string& dir);

// "" when `saved` and `current` (two fingerprints) agree, else the message naming the first field
// that differs: "its batch is 4, this run's is 8".
std::string fingerprintDifference(const nlohmann::json& saved, const nlohmann::json& current);

}  // namespace slmc
