// slmc distill --teacher T (--student S | --student-from T [--drop-layers K] [--prune-heads F]
//              [--prune-ffn F]) [--recipe R] --data D -o OUT [training flags]
// A thin adapter: --student-from becomes a `prune_structured(…)` item that cuts the student out of
// the teacher, followed by one `distill(…)` item, run by the shared compress runner (so the
// output is an HF directory and the report compares it with the input model). The training
// flags are generated from the distill pass's own option declarations (apps/pass_flags.h:
// --eval-every for eval_every, …), so they cannot drift from the pass.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "apps/commands.h"
#include "apps/compress_runner.h"
#include "apps/pass_flags.h"
#include "apps/rank_launcher.h"
#include "lib/pipeline/pass_options.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/data_parallel.h"
#include "lib/support/error.h"
#include "passes/distill/distill_pass.h"

namespace slmc {

namespace {
struct DistillFlags {
  std::string teacher, student, student_from, recipe;
  int64_t drop_layers = 0;
  double prune_heads = 0, prune_ffn = 0;
  std::shared_ptr<PassFlags> pass_flags;  // the distill pass's options (only those given are passed on)
  // Data parallel: --nproc starts ranks here; --rank/--world-size/--master-* join a group
  // (torchrun's environment variables when these are not given).
  int64_t nproc = 1;
  DataParallelGroup group;
};

// The group this process is one of: torchrun's variables, overridden by the flags given.
DataParallelGroup dataParallelGroup(const DistillFlags& f, const CLI::App& sub) {
  require(!sub.count("--rank") || sub.count("--world-size") || std::getenv("WORLD_SIZE"),
          "--rank needs --world-size (or WORLD_SIZE): how many ranks the group has");
  DataParallelGroup g = dataParallelFromEnvironment();
  if (sub.count("--world-size")) g.world_size = f.group.world_size;
  if (sub.count("--rank")) g.rank = f.group.rank;
  if (sub.count("--master-addr")) g.master_addr = f.group.master_addr;
  if (sub.count("--master-port")) g.master_port = f.group.master_port;
  validateDataParallelGroup(g);
  return g;
}

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
  sub->add_option("--nproc", f->nproc,
                  "data-parallel training: start this many ranks on this machine (LibTorch's c10d with Gloo); each "
                  "trains on batch / nproc sequences of every micro-batch")
      ->check(CLI::Range(int64_t{1}, int64_t{256}));
  sub->add_option("--rank", f->group.rank, "this process's rank in a data-parallel group (default: RANK)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--world-size", f->group.world_size, "ranks in the data-parallel group (default: WORLD_SIZE)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--master-addr", f->group.master_addr, "address of rank 0, which serves the rendezvous (default: "
                                                         "MASTER_ADDR, else 127.0.0.1)");
  sub->add_option("--master-port", f->group.master_port, "rank 0's rendezvous port (default: MASTER_PORT, else 29500)")
      ->check(CLI::Range(1, 65535));
  const CompressFlags flags = addCompressFlags(sub, *job);
  sub->callback([job, f, &common, sub, student, from, drop, heads, ffn, recipe, flags] {
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
    run.data_parallel = dataParallelGroup(*f, *sub);
    if (f->nproc > 1) {
      require(!run.data_parallel.distributed(),
              "--nproc starts its own ranks: drop --rank / --world-size (or unset WORLD_SIZE) to use it");
      RankLaunch launch;
      launch.nproc = f->nproc;
      launch.argv = common.argv;
      launch.threads = common.threads;
      std::string resume;  // the trainer writes into the directory it resumes from unless one is named
      for (const PassInvocation& item : run.pipeline)
        for (const auto& [key, value] : item.options)
          if (item.name == "distill" && key == "checkpoint_dir") launch.checkpoint_dir = value;
          else if (item.name == "distill" && key == "resume") resume = value;
      if (launch.checkpoint_dir.empty()) launch.checkpoint_dir = resume;
      const RankOutcome outcome = launchLocalRanks(launch);
      if (outcome.exit_code == 0) return;
      std::fprintf(stderr, "slmc: %s\n", outcome.failure.c_str());  // one line for every rank
      std::exit(outcome.exit_code);
    }
    runCompressJob("distill", run, common);
  });
}

}  // namespace slmc
