// slmc quantize MODEL --method rtn|gptq|awq|smoothquant --bits B --group-size G [--embedding S] --data CALIB
//                --samples N --seq-len L -o OUT [--eval-data EVAL] [--report r.json]
// A thin adapter: one flag per option of the quantize family's passes (apps/pass_flags.h), which become one
// `quantize(...)` pipeline item (the same text `slmc compress --passes` takes), run by the shared
// compress runner.
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "apps/pass_flags.h"
#include "lib/pipeline/pipeline.h"
#include "passes/builtin_passes.h"

namespace slmc {

void setupQuantize(CLI::App& app, const CommonOptions& common) {
  auto job = std::make_shared<CompressJob>();
  CLI::App* sub = app.add_subcommand("quantize", "Post-training quantization (RTN, GPTQ, AWQ, SmoothQuant W8A8)");
  sub->add_option("model", job->model, "Hugging Face model directory, GGUF or llama2.c .bin")->required();
  // Only the flags given reach the pass: its own defaults (and their method-specific variants) apply.
  PassRegistry registry;
  registerBuiltinPasses(registry);
  auto flags = std::make_shared<PassFlags>(
      sub, registry, "quantize",
      std::vector<FlagSpelling>{{"symmetric", "--asymmetric"}, {"schemes", "--scheme", /*split_commas=*/false}});
  addCompressFlags(sub, *job);
  sub->callback([job, flags, &common] {
    CompressJob run = *job;
    PassInvocation quantize{"quantize", flags->given()};
    // The method is always written out: a report's pipeline says which one ran.
    if (!flags->isGiven("method")) quantize.options.insert(quantize.options.begin(), {"method", "rtn"});
    run.pipeline = {quantize};
    runCompressJob("quantize", run, common);
  });
}

}  // namespace slmc
