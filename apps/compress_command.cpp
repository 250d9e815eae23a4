// slmc compress MODEL (--recipe configs/x.yaml | --passes "quantize(method=gptq,bits=4)") -o OUT ...
// A recipe's `calibration` and `eval` sections give defaults; flags on the command line win.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "lib/error.h"
#include "lib/pass_registry.h"
#include "lib/pipeline.h"
#include "passes/builtin_passes.h"

namespace slmc {

namespace {

int64_t recipeInt(const Recipe& r, const std::map<std::string, std::string>& section, const std::string& key,
                  const std::string& section_name) {
  const std::string& text = section.at(key);
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("recipe '" + r.name + "': " + section_name + "." + key + " = '" + text + "' is not an integer");
}

// Recipe sections hold only known keys: a typo must not silently drop a setting.
void requireKnownKeys(const std::map<std::string, std::string>& section, const std::vector<std::string>& known,
                      const std::string& where) {
  for (const auto& [key, value] : section) {
    bool ok = false;
    for (const std::string& k : known) ok = ok || k == key;
    if (!ok) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where + ": unknown key '" + key + "' (known: " + list + ")");
    }
  }
}

}  // namespace

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
      const Recipe r = parseRecipeFile(*recipe_path);
      run.recipe = *recipe_path;
      run.pipeline = r.passes;
      const std::string where = "recipe '" + *recipe_path + "'";
      requireKnownKeys(r.calibration, {"samples", "seq_len", "seed"}, where + " calibration");
      requireKnownKeys(r.eval, {"ctx"}, where + " eval");
      if (r.calibration.count("samples") && !flags.samples->count())
        run.samples = recipeInt(r, r.calibration, "samples", "calibration");
      if (r.calibration.count("seq_len") && !flags.seq_len->count())
        run.seq_len = recipeInt(r, r.calibration, "seq_len", "calibration");
      if (r.calibration.count("seed") && !flags.seed->count())
        run.seed = static_cast<uint64_t>(recipeInt(r, r.calibration, "seed", "calibration"));
      if (r.eval.count("ctx") && !flags.eval_ctx->count()) run.eval_ctx = recipeInt(r, r.eval, "ctx", "eval");
      if (!r.gate.empty() && !flags.gate->count()) run.gate = r.gate;
      // The baseline sits next to the recipe (configs/baselines/…), wherever the job runs from.
      if (!r.gate_baseline.empty() && !flags.gate_baseline->count())
        run.gate_baseline = (std::filesystem::path(*recipe_path).parent_path() / r.gate_baseline).string();
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
