// slmc distill --teacher T (--student S | --student-from T [--drop-layers K] [--prune-heads F]
//              [--prune-ffn F]) [--recipe R] --data D -o OUT [training flags]
// A thin adapter: --student-from becomes a `prune_structured(…)` item that cuts the student out of
// the teacher, followed by one `distill(…)` item, run by the shared compress runner (so the
// output is an HF directory and the report compares it with the input model). The training
// flags are generated from the distill pass's own option declarations (apps/pass_flags.h:
// --eval-every for eval_every, …), so they cannot drift from the pass.
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "apps/pass_flags.h"
#include "lib/pipeline/pass_options.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "passes/distill/distill_pass.h"

namespace slmc {

namespace {
struct DistillFlags {
  std::string teacher, student, student_from, recipe;
  int64_t drop_layers = 0;
  double prune_heads = 0, prune_ffn = 0;
  std::shared_ptr<PassFlags> pass_flags;  // the distill pass's options (only those given are passed on)
};

// The recipe's (or the flags') pipeline with the given flag values set on its one distill item.
void applyDistillFlags(std::vector<PassInvocation>& pipeline, const DistillFlags& f, const std::string& teacher) {
  PassInvocation* distill = nullptr;
  for (PassInvocation& item : pipeline)
    if (item.name == "distill") {
      require(distill == nullptr, "the pipeline has more than one distill pass: `slmc distill` sets the options of one "
                                  "(use `slmc compress` for several)");
      distill = &item;
    }
  require(distill != nullptr, "the recipe has no distill pass (use `slmc compress` for recipes without one)");
  const auto set = [&](const std::string& key, const std::string& value) {
    for (auto& [k, v] : distill->options)
      if (k == key) {
        v = value;
        return;
      }
    distill->options.emplace_back(key, value);
  };
  if (!teacher.empty()) set("teacher", teacher);
  for (const auto& [name, value] : f.pass_flags->given()) set(name, value);
}
}  // namespace

void setupDistill(CLI::App& app, const CommonOptions& common) {
  auto job = std::make_shared<CompressJob>();
  auto f = std::make_shared<DistillFlags>();
  CLI::App* sub = app.add_subcommand("distill", "Knowledge distillation: train a student (e.g. a structurally pruned "
                                                "teacher) to match a teacher's next-token distributions");
  sub->add_option("--teacher", f->teacher, "teacher model: HF directory, GGUF or llama2.c .bin (default: --student-from)");
  CLI::Option* student = sub->add_option("--student", f->student, "student model (same vocabulary as the teacher)");
  CLI::Option* from = sub->add_option("--student-from", f->student_from,
                                      "cut the student out of this model with structured pruning (--drop-layers, "
                                      "--prune-heads, --prune-ffn)");
  student->excludes(from);
  CLI::Option* drop = sub->add_option("--drop-layers", f->drop_layers, "--student-from: whole layers removed")
                          ->check(CLI::NonNegativeNumber);
  CLI::Option* heads = sub->add_option("--prune-heads", f->prune_heads, "--student-from: fraction of attention heads removed");
  CLI::Option* ffn = sub->add_option("--prune-ffn", f->prune_ffn, "--student-from: fraction of MLP channels removed");
  CLI::Option* recipe = sub->add_option("--recipe", f->recipe,
                                        "YAML recipe with one distill pass (e.g. configs/distill-shrunk.yaml); the flags "
                                        "below override its options");
  f->pass_flags = std::make_shared<PassFlags>(sub, DistillPass(), std::vector<FlagSpelling>{},
                                              std::vector<std::string>{"teacher"});
  const CompressFlags flags = addCompressFlags(sub, *job);
  sub->callback([job, f, &common, student, from, drop, heads, ffn, recipe, flags] {
    require(student->count() || from->count() || recipe->count(),
            "give the student: --student MODEL, or --student-from MODEL with --drop-layers / --prune-heads / --prune-ffn");
    require(!(student->count() && (drop->count() || heads->count() || ffn->count())),
            "--drop-layers, --prune-heads and --prune-ffn cut a student out of --student-from, not --student");
    CompressJob run = *job;
    run.model = student->count() ? f->student : f->student_from;
    std::string teacher = f->teacher;
    if (recipe->count()) {
      applyRecipe(f->recipe, run, flags);
      require(!run.model.empty() || !teacher.empty(), "give --student or --student-from with --recipe");
      if (run.model.empty()) run.model = teacher;  // the recipe cuts the student out of the teacher
    }
    if (from->count() && teacher == run.model) teacher.clear();  // the pipeline's input is the teacher
    if (!recipe->count()) {
      if (from->count()) {
        OptionAssignments prune;
        if (drop->count()) prune.emplace_back("layers", std::to_string(f->drop_layers));
        if (heads->count()) prune.emplace_back("heads", detail::OptionCodec<double>::format(f->prune_heads));
        if (ffn->count()) prune.emplace_back("ffn", detail::OptionCodec<double>::format(f->prune_ffn));
        require(!prune.empty(), "--student-from needs --drop-layers, --prune-heads and/or --prune-ffn (else the "
                                "student would be the teacher itself)");
        run.pipeline.push_back({"prune_structured", prune});
      } else {
        require(!teacher.empty(), "--student needs --teacher");
      }
      run.pipeline.push_back({"distill", {}});
    } else if (student->count()) {
      require(!teacher.empty(), "--student needs --teacher");
    }
    applyDistillFlags(run.pipeline, *f, teacher);
    // Checkpoints go beside the output unless a directory is named.
    for (PassInvocation& item : run.pipeline) {
      if (item.name != "distill") continue;
      bool wants = false, named = false;
      for (const auto& [key, value] : item.options) {
        wants = wants || ((key == "checkpoint_every" || key == "stop_after") && value != "0");
        named = named || key == "checkpoint_dir" || key == "resume";
      }
      if (wants && !named) item.options.emplace_back("checkpoint_dir", run.output + ".checkpoint");
    }
    runCompressJob("distill", run, common);
  });
}

}  // namespace slmc
