// What `slmc compress`, `slmc quantize` (and later `prune`) share: load a model, build and check
// the whole pipeline before any work, run it, write the artifact atomically, compare the result
// with the original on evaluation tokens and write the report (JSON + Markdown).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "datasets/token_source.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/data_parallel.h"

namespace slmc {

struct CompressJob {
  std::string model;
  std::vector<PassInvocation> pipeline;
  std::string recipe;  // recipe file, for provenance ("" for inline pipelines)
  // Calibration: --data (empty: none) cut into `samples` samples of `seq_len` chosen with `seed`.
  TokenSourceOptions calibration;
  int64_t samples = 128;
  int64_t seq_len = 256;
  uint64_t seed = 0;
  std::string stats_cache;
  // Evaluation against the original: --eval-data / --eval-tokens (empty: skipped).
  TokenSourceOptions eval;
  int64_t eval_ctx = 256;
  int64_t eval_batch = 4;
  std::string float_dtype;  // --float-dtype / recipe float_dtype: f32, f16, bf16; "": defaults (lib/format/float_dtype.h)
  std::string output;  // Hugging Face-style directory
  std::string report;  // JSON path; default <output>/slmc_report.json
  bool force = false;  // replace an existing output directory (or the input itself)
  // Checked on the written report (lib/report/gate.h): a failing condition exits 1 after the
  // report is written. Relative bounds compare with gate_baseline's figures when given, else
  // with the original model's.
  std::string gate;
  std::string gate_baseline;  // report JSON
  // Data-parallel distillation (`slmc distill --nproc`, torchrun's variables): every rank runs
  // the pipeline up to its last distill pass; rank 0 alone goes on, writes and reports.
  DataParallelGroup data_parallel;
};

// Registers the flags every compressing command shares (data, evaluation, output, report).
// Returns the options so callers can tell which were given (count()).
struct CompressFlags {
  CLI::Option *samples, *seq_len, *seed, *eval_ctx, *float_dtype, *gate, *gate_baseline;
};
CompressFlags addCompressFlags(CLI::App* sub, CompressJob& job);

// A YAML recipe's passes into `run`, and its calibration/eval settings where `flags` were not
// given on the command line (flags win). Unknown section keys are errors.
void applyRecipe(const std::string& path, CompressJob& run, const CompressFlags& flags);

void runCompressJob(const std::string& command, const CompressJob& job, const CommonOptions& common);

}  // namespace slmc
