// slmc prune MODEL --method magnitude|wanda|sparsegpt (--sparsity F | --nm N:M)
//            [--structured heads=F,ffn=F,layers=K] --data CALIB -o OUT [--eval-data EVAL] [--report r.json]
// A thin adapter: one flag per option of the prune pass (apps/pass_flags.h). The flags become
// `prune_structured(...)` and/or `prune(...)` pipeline items (the text `slmc compress --passes`
// takes), run by the shared compress runner. Structured pruning runs first: it changes the shapes
// the unstructured masks are chosen on.
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "apps/pass_flags.h"
#include "lib/pipeline/pass_options.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "passes/builtin_passes.h"

namespace slmc {

namespace {
// "heads=0.25,ffn=0.3,layers=2" (CLI11 split it at the commas) → the pass's options.
OptionAssignments structuredOptions(const std::vector<std::string>& items) {
  OptionAssignments out;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    require(eq != std::string::npos && eq > 0 && eq + 1 < item.size(),
            "--structured item '" + item + "' is not KEY=VALUE (write e.g. --structured heads=0.25,ffn=0.3,layers=2)");
    const std::string key = item.substr(0, eq);
    require(key == "heads" || key == "ffn" || key == "layers",
            "--structured key '" + key + "' is not one of heads, ffn, layers");
    out.emplace_back(key, item.substr(eq + 1));
  }
  return out;
}
}  // namespace

void setupPrune(CLI::App& app, const CommonOptions& common) {
  auto job = std::make_shared<CompressJob>();
  auto structured = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand("prune", "Pruning: unstructured / N:M (magnitude, Wanda, SparseGPT) and structured "
                                              "(heads, MLP channels, layers)");
  sub->add_option("model", job->model, "Hugging Face model directory, GGUF, llama2.c .bin or .slmc pack")->required();
  // One flag per option of the prune pass (apps/pass_flags.h); only those given reach it.
  PassRegistry registry;
  registerBuiltinPasses(registry);
  auto flags = std::make_shared<PassFlags>(sub, registry, "prune");
  sub->get_option("--sparsity")->excludes(sub->get_option("--nm"));
  CLI::Option* structured_flag =
      sub->add_option("--structured", *structured, "structured pruning: heads=F,ffn=F,layers=K (any subset)")
          ->delimiter(',');
  addCompressFlags(sub, *job);
  sub->callback([job, flags, structured, structured_flag, &common] {
    std::vector<PassInvocation> pipeline;
    if (structured_flag->count()) pipeline.push_back({"prune_structured", structuredOptions(*structured)});
    const OptionAssignments given = flags->given();
    if (!given.empty()) {
      require(flags->isGiven("method"),
              flags->flagsText({"sparsity", "nm", "layer_sparsity", "skip", "damp", "block_size"}) +
                  " need --method (magnitude, wanda or sparsegpt)");
      pipeline.push_back({"prune", given});
    }
    require(!pipeline.empty(), "nothing to do: give --method (unstructured or N:M pruning) and/or --structured");
    CompressJob run = *job;
    run.pipeline = pipeline;
    runCompressJob("prune", run, common);
  });
}

}  // namespace slmc
