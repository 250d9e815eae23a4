// The one way a command turns `--tokens FILE` or `--data FILE|DIR|data.h5 [--tokenizer PATH]`
// into a token stream for a given model: eval scores it, quantize/prune calibrate on it.
//  - --tokens: ids as text (one per line) or raw .u32.
//  - --data data.h5 (from `slmc dataset build/generate`): its samples concatenated in row order.
//  - --data text (file or directory): each document encoded with the boundary policy of
//    sample_builder.h (BOS per document), concatenated.
// Tokenizer: --tokenizer, else the model directory's tokenizer.json. A tokenizer with more ids
// than the model's vocabulary is refused.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

struct TokenSourceOptions {
  std::string tokens;                  // --tokens FILE
  std::string tokens_format = "auto";  // auto, text, u32
  std::string data;                    // --data FILE|DIR|data.h5
  std::string tokenizer;               // --tokenizer PATH
  std::string text_format = "auto";    // auto, text, lines, paragraphs, jsonl
  std::string field = "text";          // JSONL field
  int64_t max_tokens = 0;              // stop after this many ids (0: all)
  // Which option names the data in error messages ("--data", "--eval-data", ...).
  std::string data_flag = "--data";
};

struct TokenSource {
  std::vector<int32_t> ids;
  // Row length of an HDF5 dataset (its rows are kept whole when cut into samples), else 0.
  int64_t dataset_seq_len = 0;
  nlohmann::json provenance;  // where the ids came from, for reports
};

// `model_path` is where `model` was loaded from (its directory may hold tokenizer.json).
TokenSource loadTokenSource(const TokenSourceOptions& options, const Model& model, const std::string& model_path);

// The ids cut into consecutive samples of seq_len (tail dropped) from which `count` are chosen
// with the seeded reservoir of datasets/sampler.h (0: all), in stream order. Throws the
// user-facing error when the stream holds fewer than `count` samples.
struct SampleSelection {
  std::vector<int32_t> ids;  // [count, seq_len] row-major
  int64_t num_samples = 0, seq_len = 0, available = 0;
};
SampleSelection selectSamples(const std::vector<int32_t>& stream, int64_t seq_len, int64_t count, uint64_t seed,
                              const std::string& what);

}  // namespace slmc
