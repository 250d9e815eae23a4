// slmc prune MODEL --method magnitude|wanda|sparsegpt (--sparsity F | --nm N:M)
//            [--structured heads=F,ffn=F,layers=K] --data CALIB -o OUT [--eval-data EVAL] [--report r.json]
// A thin adapter: the flags become `prune_structured(...)` and/or `prune(...)` pipeline items
// (the text `slmc compress --passes` takes), run by the shared compress runner. Structured
// pruning runs first: it changes the shapes the unstructured masks are chosen on.
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "lib/error.h"
#include "lib/pass_options.h"
#include "lib/pipeline.h"

namespace slmc {

namespace {
struct PruneFlags {
  std::string method;
  double sparsity = 0.5;
  std::string nm;
  std::vector<std::string> layer_sparsity;
  std::vector<std::string> skip;
  double damp = 0.01;
  int64_t block_size = 128;
  std::vector<std::string> structured;
};

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
  auto p = std::make_shared<PruneFlags>();
  CLI::App* sub = app.add_subcommand("prune", "Pruning: unstructured / N:M (magnitude, Wanda, SparseGPT) and structured "
                                              "(heads, MLP channels, layers)");
  sub->add_option("model", job->model, "Hugging Face model directory, GGUF, llama2.c .bin or .slmc pack")->required();
  CLI::Option* method = sub->add_option("--method", p->method, "magnitude (no data), wanda or sparsegpt")
                            ->check(CLI::IsMember({"magnitude", "wanda", "sparsegpt"}));
  CLI::Option* sparsity = sub->add_option("--sparsity", p->sparsity, "fraction of each weight set to zero (default 0.5)");
  CLI::Option* nm = sub->add_option("--nm", p->nm, "N:M semi-structured sparsity instead (2:4, 4:8)");
  CLI::Option* layer_sparsity =
      sub->add_option("--layer-sparsity", p->layer_sparsity, "one fraction per layer (comma-separated)")->delimiter(',');
  CLI::Option* skip =
      sub->add_option("--skip", p->skip, "weights left dense (default lm_head,embed; re:REGEX allowed)")->delimiter(',');
  CLI::Option* damp = sub->add_option("--damp", p->damp, "sparsegpt: Hessian damping fraction (default 0.01)");
  CLI::Option* block = sub->add_option("--block-size", p->block_size, "sparsegpt: columns per block (default 128)");
  CLI::Option* structured =
      sub->add_option("--structured", p->structured, "structured pruning: heads=F,ffn=F,layers=K (any subset)")
          ->delimiter(',');
  sparsity->excludes(nm);
  addCompressFlags(sub, *job);
  sub->callback([job, p, &common, method, sparsity, nm, layer_sparsity, skip, damp, block, structured] {
    std::vector<PassInvocation> pipeline;
    if (structured->count()) pipeline.push_back({"prune_structured", structuredOptions(p->structured)});
    const bool unstructured_flags = sparsity->count() || nm->count() || layer_sparsity->count() || skip->count() ||
                                    damp->count() || block->count();
    require(method->count() || !unstructured_flags,
            "--sparsity, --nm, --layer-sparsity, --skip, --damp and --block-size need --method (magnitude, wanda or "
            "sparsegpt)");
    if (method->count()) {
      PassInvocation inv{"prune", {{"method", p->method}}};
      if (sparsity->count()) inv.options.emplace_back("sparsity", detail::OptionCodec<double>::format(p->sparsity));
      if (nm->count()) inv.options.emplace_back("nm", p->nm);
      if (layer_sparsity->count()) inv.options.emplace_back("layer_sparsity", listValueText(p->layer_sparsity));
      if (skip->count()) inv.options.emplace_back("skip", listValueText(p->skip));
      if (damp->count()) inv.options.emplace_back("damp", detail::OptionCodec<double>::format(p->damp));
      if (block->count()) inv.options.emplace_back("block_size", std::to_string(p->block_size));
      pipeline.push_back(inv);
    }
    require(!pipeline.empty(), "nothing to do: give --method (unstructured or N:M pruning) and/or --structured");
    CompressJob run = *job;
    run.pipeline = pipeline;
    runCompressJob("prune", run, common);
  });
}

}  // namespace slmc
