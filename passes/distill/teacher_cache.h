// The teacher's top-k next-token distributions over a run's training sequences, kept on disk
// (`--teacher-cache FILE`) so that further runs (more epochs, other students of the same teacher)
// train without running the teacher. HDF5, readable by h5py:
//   /input_ids      int32 [sequences, seq_len]     the training sequences (teacher-generated ones
//                                                  included, so a reuse needs no generation)
//   /top_ids        int32 [sequences, seq_len, k]  the k most likely next tokens, most likely first
//   /top_log_probs  float32 [sequences, seq_len, k] their log-probabilities at the run's
//                                                  temperature, over the whole vocabulary (so
//                                                  1 − Σ exp is the mass of the rest)
//   attribute "fingerprint" on the root: JSON naming what the cache was made from (schema,
//                  teacher shapes and weights checksum, data checksum, generation, k,
//                  temperature); a run
//                  reuses it only when every field is its own.
// Written to a temp name and renamed into place: a killed run leaves no half cache.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slmc {

inline constexpr const char* kTeacherCacheSchema = "slmc-teacher-top-k";

struct TeacherTopK {
  int64_t sequences = 0, seq_len = 0, k = 0;
  std::vector<int32_t> input_ids;   // sequences * seq_len
  std::vector<int32_t> top_ids;     // sequences * seq_len * k
  std::vector<float> top_log_probs; // sequences * seq_len * k
  nlohmann::json fingerprint = nlohmann::json::object();
};

void writeTeacherCache(const std::string& path, const TeacherTopK& cache);
// Throws one Error naming the file and the problem for a missing, foreign, truncated or
// inconsistent file.
TeacherTopK readTeacherCache(const std::string& path);

}  // namespace slmc
