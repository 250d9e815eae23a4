// The pass interface (MLIR's Pass, LLVM's DCE.h shape): a pass is a thin class with an argument
// name, a one-line description, declared options (pass_options.h) and one run(). The maths it
// wires up lives in free functions that tests and other passes can call directly. Passes never
// print: they talk to the user through the PassContext (progress, log, warnings) and hand back
// a PassResult that goes into the report.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/pipeline/calibration_samples.h"
#include "lib/pipeline/pass_options.h"
#include "lib/support/data_parallel.h"

namespace slmc {

class Progress;

// What a pass needs and does, read by the pass manager to check a whole pipeline before any
// work starts. Evaluated after the options are parsed: traits may depend on them
// (quantize(method=rtn) needs no calibration, quantize(method=gptq) does).
struct PassTraits {
  bool needs_calibration = false;    // asks the context for calibration samples
  bool needs_float_weights = false;  // refuses quantized weights (e.g. pruning)
  bool quantizes = false;            // leaves quantized tensors behind
  bool terminal = false;             // must be the last pass (e.g. export)
};

// What a pass reports back: one line for the log, figures for the report, warnings to show.
struct PassResult {
  std::string summary;                                // "quantized 14 linears to int4-g128-sym"
  nlohmann::json figures = nlohmann::json::object();  // numbers for the report (free-form)
  std::vector<std::string> warnings;
};

// The run's settings and services, shared by every pass of a pipeline.
class PassContext {
 public:
  PassContext();
  ~PassContext();
  PassContext(const PassContext&) = delete;
  PassContext& operator=(const PassContext&) = delete;

  int threads = 0;                    // compute threads (0: all cores)
  bool quiet = false;                 // no progress or log lines
  uint64_t seed = 0;                  // for any sampling a pass does
  std::string stats_cache;            // calibration statistics cache file ("" : none)
  std::vector<std::string> warnings;  // run-wide warnings (warn()); a pass's own go in its PassResult
  // The model the pipeline started from, before any pass ran (distill's default teacher); null
  // when the caller did not provide it.
  const Model* original = nullptr;
  // Where a terminal pass (export) writes the artifact: the command's -o ("": nowhere). The
  // command has checked it before any work.
  std::string output;
  std::string float_dtype;  // the run's --float-dtype for the tensors kept float ("": each its own)
  std::string pipeline;     // the pipeline's text, recorded in an artifact's provenance
  // The data-parallel ranks this process is one of (`slmc distill --nproc`, torchrun's variables):
  // training passes split their batches over them; a single process by default.
  DataParallelGroup data_parallel;

  // Installs where calibration samples come from. `load` runs at most once, on first use, so a
  // pipeline that needs no calibration never reads the data. `description` names the source
  // ("wikitext-2/train.txt, 128 x 256 tokens") for logs and errors.
  void setCalibration(std::function<CalibrationSamples()> load, std::string description);
  bool hasCalibration() const { return static_cast<bool>(load_calibration_); }
  const std::string& calibrationDescription() const { return calibration_description_; }
  // The samples, loaded on first call. Throws Error when no source is installed.
  const CalibrationSamples& calibration();
  // calibration() when `needed`, else empty samples (and nothing is loaded): for passes whose
  // options decide whether they calibrate (quantize(method=rtn) does not).
  const CalibrationSamples& calibrationIf(bool needed);

  // Progress of a long step on one redrawn stderr line (silent when quiet or not a terminal).
  // A new label starts a new line; done == total ends it. `note` follows the counts on the line
  // ("loss 2.31, 1840 tok/s").
  void progress(const std::string& label, int64_t done, int64_t total, const std::string& note = "");
  // One line on stderr unless quiet.
  void log(const std::string& message);
  // Records a run-wide warning and logs it.
  void warn(const std::string& message);

 private:
  std::function<CalibrationSamples()> load_calibration_;
  std::string calibration_description_;
  std::optional<CalibrationSamples> calibration_;
  std::unique_ptr<Progress> progress_;
  std::string progress_label_;
};

// A pass is its options plus run(). Declare options as members:
//   class RtnPass : public Pass {
//    public:
//     Option<int64_t> bits{*this, "bits", "weight bit width", 4};
//     RtnPass() : Pass("rtn", "round-to-nearest weight quantization") { bits.choices({2, 3, 4, 8}); }
//     PassTraits traits() const override { …; }
//     PassResult run(Model& model, PassContext& context) override;
//   };
class Pass : public PassOptions {
 public:
  Pass(std::string argument, std::string description);
  ~Pass() override = default;

  // The name pipelines call it by ("quantize").
  const std::string& argument() const { return ownerName(); }
  const std::string& description() const { return description_; }

  virtual PassTraits traits() const { return {}; }
  // Checks that need several options together (throw Error naming the options and the fix).
  virtual void validateOptions() const {}
  // When traits() needs calibration: how to run without it, for the error that says data is
  // missing (e.g. "use method=rtn"); "" when there is no way.
  virtual std::string withoutCalibration() const { return {}; }
  // When traits() needs float weights: another way to run on quantized ones, for the error that
  // says they are quantized (e.g. distill's "qat=true"); "" when there is none.
  virtual std::string withQuantizedWeights() const { return {}; }

  virtual PassResult run(Model& model, PassContext& context) = 0;

 private:
  std::string description_;
};

}  // namespace slmc
