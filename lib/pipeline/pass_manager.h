// Builds a pipeline of passes from its invocations, checks the whole of it against the model and
// the context before any work starts (a pipeline that would fail at pass 3 fails before pass 1
// spends an hour), then runs the passes in order, timing each and recording its memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/pipeline/pass.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"

namespace slmc {

// One pass as it ran, for the report.
struct PassRecord {
  std::string name;        // as written: a pass, or a family (pass_registry.h)
  std::string pass;        // the pass that ran ("gptq" for quantize(method=gptq))
  std::string invocation;  // text form as written ("quantize(bits=4)")
  nlohmann::json options;  // every option's value, explicit and default
  double seconds = 0;
  int64_t peak_rss_bytes = 0;    // the process's peak RSS when the pass ended (the high-water mark so far)
  int64_t rss_growth_bytes = 0;  // RSS after minus RSS before (negative when the pass freed memory)
  PassResult result;
};

class PassManager {
 public:
  explicit PassManager(const PassRegistry& registry) : registry_(registry) {}

  // Creates the passes and parses their options (replacing any previous pipeline). Errors name
  // the pass and its position: "pass 2: option 'bits' of pass 'quantize': …".
  void build(const std::vector<PassInvocation>& pipeline);
  // Checks the whole pipeline for `model` and `context`: each pass's option combination, a
  // terminal pass that is not last, float-only passes after quantization (or on an already
  // quantized model), calibration needed but none installed. Throws Error on the first problem.
  void validate(const Model& model, const PassContext& context) const;
  // validate(), then runs every pass in order (only the first `count`: a data-parallel helper rank
  // stops after the training it shares). A pass's exception becomes
  // Error "pass 2 'quantize' failed: <message>".
  std::vector<PassRecord> run(Model& model, PassContext& context, size_t count = SIZE_MAX);

  size_t size() const { return passes_.size(); }
  const Pass& pass(size_t i) const { return *passes_.at(i); }
  const std::vector<PassInvocation>& invocations() const { return invocations_; }
  std::string pipelineText() const { return slmc::pipelineText(invocations_); }

 private:
  // "pass 2 'quantize'"
  std::string label(size_t i) const;

  const PassRegistry& registry_;
  std::vector<PassInvocation> invocations_;
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace slmc
