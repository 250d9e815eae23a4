// slmc compress MODEL (--recipe configs/x.yaml | --passes "quantize(method=gptq,bits=4)") -o OUT ...
// A recipe's `calibration` and `eval` sections give defaults; flags on the command line win.
#include <cstdio>
#include <limits>
#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "passes/builtin_passes.h"

namespace slmc {

void setupCompress(CLI::App& app, const CommonOptions& common) {
  auto job = std::make_shared<CompressJob>();
  auto recipe_path = std::make_shared<std::string>();
  auto passes = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("compress", "Run a pipeline of passes from a YAML recipe or inline text");
  sub->add_option("model", job->model, "Hugging Face model directory, GGUF or llama2.c .bin")->required();
  CLI::Option* recipe = sub->add_option("--recipe", *recipe_path, "YAML recipe (see configs/)");
  CLI::Option* inline_passes =
      sub->add_option("--passes", *passes, "inline pipeline, e.g. \"quantize(method=gptq,bits=4,group_size=128)\"");
  recipe->excludes(inline_passes);
  const CompressFlags flags = addCompressFlags(sub, *job);
  sub->callback([job, recipe_path, passes, flags, &common] {
    if (recipe_path->empty() == passes->empty())
      throw CLI::ValidationError("compress", "give exactly one of --recipe FILE or --passes TEXT");
    CompressJob run = *job;
    if (!passes->empty()) {
      run.pipeline = parsePipeline(*passes);
    } else {
      applyRecipe(*recipe_path, run, flags);
    }
    runCompressJob("compress", run, common);
  });
}

void setupPasses(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("passes", "List the passes a pipeline can use, with their options");
  sub->callback([] {
    PassRegistry registry;
    registerBuiltinPasses(registry);
    std::fputs(registry.describe().c_str(), stdout);
  });
}

}  // namespace slmc
