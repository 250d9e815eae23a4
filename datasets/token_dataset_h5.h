// Token datasets on disk: the output of `slmc dataset build`, input of eval and calibration.
// Layout of the HDF5 file (readable by h5py):
//   /input_ids                int32 [num_samples, seq_len], row i is sample i
//   attribute "provenance"    on the root group: a UTF-8 JSON string (schema "slmc-token-dataset",
//                             version 1): source files with sha256, tokenizer path/kind/vocab size,
//                             seq_len, seed, boundary policy, slmc version.
// Files are written to a temp name and renamed into place, so a failed write leaves nothing; no
// timestamps are stored, so the same samples and provenance give byte-identical files.
// Readers accept any integer dtype for /input_ids (h5py users often write int64) as long as every
// id fits in int32; other dtypes, ranks and missing datasets are errors naming the fix.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slmc {

struct TokenDataset {
  int64_t num_samples = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> input_ids;  // num_samples * seq_len, row-major
  nlohmann::json provenance;       // null when the file has none
};

void writeTokenDatasetH5(const std::string& path, const TokenDataset& dataset);
TokenDataset readTokenDatasetH5(const std::string& path);
// True when the file starts with the HDF5 signature (so `--data` can tell .h5 from text).
bool isHdf5File(const std::string& path);

}  // namespace slmc
