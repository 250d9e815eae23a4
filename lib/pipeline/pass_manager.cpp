#include "lib/pipeline/pass_manager.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "lib/support/error.h"
#include "lib/support/memory_usage.h"

namespace slmc {

std::string PassManager::label(size_t i) const {
  return "pass " + std::to_string(i + 1) + " '" + invocations_[i].name + "'";
}

void PassManager::build(const std::vector<PassInvocation>& pipeline) {
  require(!pipeline.empty(), "the pipeline is empty: name at least one pass (see `slmc passes`)");
  std::vector<std::unique_ptr<Pass>> passes;
  for (size_t i = 0; i < pipeline.size(); ++i) {
    try {
      const PassInvocation resolved = registry_.resolve(pipeline[i]);
      std::unique_ptr<Pass> pass = registry_.create(resolved.name);
      if (resolved.name != pipeline[i].name) pass->setSpelledName(pipeline[i].name);
      pass->parseOptions(resolved.options);
      passes.push_back(std::move(pass));
    } catch (const Error& e) {
      throw Error("pass " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  invocations_ = pipeline;
  passes_ = std::move(passes);
}

void PassManager::validate(const Model& model, const PassContext& context) const {
  require(!passes_.empty(), "internal: PassManager::validate before build");
  int64_t quantizer = -1;  // the last pass so far that leaves quantized tensors
  for (size_t i = 0; i < passes_.size(); ++i) {
    const Pass& pass = *passes_[i];
    try {
      pass.validateOptions();
    } catch (const Error& e) {
      throw Error(label(i) + ": " + e.what());
    }
    const PassTraits traits = pass.traits();
    if (traits.terminal && i + 1 != passes_.size())
      throw Error(label(i) + " must be the last pass but '" + invocations_[i + 1].name + "' follows it: move " +
                  invocations_[i].name + " to the end");
    if (traits.needs_float_weights) {
      const std::string other = pass.withQuantizedWeights();
      const std::string alternative = other.empty() ? "" : ", or " + other;
      if (quantizer >= 0) {
        const std::string& q = invocations_[static_cast<size_t>(quantizer)].name;
        throw Error(label(i) + " needs float weights but " + label(static_cast<size_t>(quantizer)) +
                    " quantizes them: put " + invocations_[i].name + " before " + q + alternative);
      }
      if (!model.quantized.empty())
        throw Error(label(i) + " needs float weights but the input model already has " +
                    std::to_string(model.quantized.size()) + " quantized tensors: start from the float checkpoint" +
                    alternative);
    }
    if (traits.needs_calibration && !context.hasCalibration()) {
      // Written as a family (quantize(method=gptq)): its data-free member, in the same spelling.
      const PassFamily* family = registry_.family(invocations_[i].name);
      const std::string alternative =
          family ? "use " + family->selector + "=" + family->members.front() : pass.withoutCalibration();
      throw Error("pass " + std::to_string(i + 1) + " '" + invocationText(invocations_[i]) +
                  "' needs calibration data: pass --data FILE" +
                  (alternative.empty() ? "" : " (or " + alternative + ")"));
    }
    if (traits.quantizes) quantizer = static_cast<int64_t>(i);
  }
}

std::vector<PassRecord> PassManager::run(Model& model, PassContext& context, size_t count) {
  validate(model, context);
  std::vector<PassRecord> records;
  for (size_t i = 0; i < std::min(count, passes_.size()); ++i) {
    Pass& pass = *passes_[i];
    PassRecord record;
    record.name = invocations_[i].name;
    record.pass = pass.argument();
    record.invocation = invocationText(invocations_[i]);
    record.options = pass.optionsJson();
    const int64_t rss_before = currentRssBytes();
    const auto start = std::chrono::steady_clock::now();
    try {
      record.result = pass.run(model, context);
    } catch (const std::bad_alloc&) {
      throw Error(label(i) + " failed: out of memory (use a smaller model or less calibration data)");
    } catch (const std::exception& e) {
      throw Error(label(i) + " failed: " + e.what());
    }
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record.peak_rss_bytes = peakRssBytes();
    record.rss_growth_bytes = currentRssBytes() - rss_before;
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace slmc
