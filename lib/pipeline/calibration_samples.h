// Fixed-length token samples a pass calibrates on (GPTQ, AWQ, SmoothQuant, Wanda…): row-major
// [num_samples, seq_len] ids, with where they came from for the report's provenance.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace slmc {

struct CalibrationSamples {
  std::vector<int32_t> ids;  // num_samples * seq_len
  int64_t num_samples = 0, seq_len = 0;
  nlohmann::json provenance;  // source file, hash, sampling seed… (free-form, set by the loader)
};

}  // namespace slmc
