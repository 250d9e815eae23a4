// Data-parallel distillation (`slmc distill --nproc N`, torchrun's variables; LibTorch's c10d with
// Gloo on loopback) on the real stories260K: two ranks end where one process with the same global
// batch ends (float rounding apart), a rank killed mid-run ends the run with one line and the last
// checkpoint intact, resuming from it with two ranks ends where the uninterrupted run ends, the
// teacher's generated sequences are sampled in shares and come out the same, and groups that
// cannot work are refused with one line.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "lib/format/checkpoint.h"
#include "passes/distill/teacher_cache.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {

// Sets an environment variable for the commands a test runs, restoring its absence after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

std::vector<double> losses(const std::string& output) {
  std::vector<double> out;
  const nlohmann::json report = readJson(output + "/slmc_report.json");
  for (const auto& row : report["passes"][1]["figures"]["loss_curve"])
    out.push_back(row["loss"].get<double>());
  return out;
}

// The largest |a - b| over every tensor of two models of the same tensors.
double maxDifference(const std::string& a, const std::string& b) {
  const Model x = loadModel(a), y = loadModel(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  double worst = 0;
  for (const auto& [name, t] : x.tensors) {
    const Tensor* u = y.tensors.find(name);
    REQUIRE_MESSAGE(u != nullptr, name);
    const std::vector<float> p = t.toFloats(), q = u->toFloats();
    REQUIRE(p.size() == q.size());
    for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(p[i]) - q[i]));
  }
  return worst;
}

// `slmc -q distill` of a student cut from stories260K (30% of the MLP channels) on `d`'s
// calibration set: every test here trains that, with its own steps and extra flags.
std::string prunedStudentRun(const GeneratedStoriesData& d, int64_t samples, int64_t steps) {
  return "-q distill --student-from " + stories260K() + " --prune-ffn 0.3 --data " + d.calib + " --samples " +
         std::to_string(samples) + " --seq-len 64 --steps " + std::to_string(steps) + " --lr 1e-3";
}

// Runs `slmc <args> -o <output>`, which must succeed.
void mustRun(const std::string& args, const std::string& output) {
  const CommandResult r = runSlmc(args + " -o " + output);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

}  // namespace

TEST_CASE("cli distill --nproc 2: two ranks end where one process with the same batch ends") {
  ScratchDir dir("distill-dp");
  const GeneratedStoriesData d("distill-dp-data", 24, 4, 64);
  const std::string run = prunedStudentRun(d, 24, 6) + " --batch 4 --warmup 2";
  mustRun(run, dir / "one");
  const CommandResult two = runSlmc(run + " --nproc 2 -o " + dir / "two");
  REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  CHECK(two.err.empty());
  // Each rank trained on 2 of every 4 sequences; the averaged gradients are one process's.
  const std::vector<double> a = losses(dir / "one"), b = losses(dir / "two");
  REQUIRE(a.size() == 6);
  REQUIRE(b.size() == 6);
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-5));
  const double difference = maxDifference(dir / "one", dir / "two");
  MESSAGE("largest weight difference, 2 ranks vs 1 process: " << difference);
  CHECK(difference < 1e-4);
  // One report and one artifact, written by rank 0 (the report counts the global batch).
  const nlohmann::json figures = readJson(dir / "two/slmc_report.json")["passes"][1]["figures"];
  CHECK(figures["tokens_per_step"] == 4 * 64);
  CHECK(figures["heldout_perplexity"].back()["perplexity"].get<double>() ==
        doctest::Approx(readJson(dir / "one/slmc_report.json")["passes"][1]["figures"]["heldout_perplexity"]
                            .back()["perplexity"]
                            .get<double>())
            .epsilon(1e-5));

  CHECK(figures["data_parallel_ranks"] == 2);

  // The teacher cache made by two ranks (each its share of the sequences) is one process's.
  mustRun(run + " --nproc 2 --teacher-cache " + dir / "t2.h5", dir / "c2");
  mustRun(run + " --teacher-cache " + dir / "t1.h5", dir / "c1");
  const std::vector<double> c1 = losses(dir / "c1"), c2 = losses(dir / "c2");
  REQUIRE(c1.size() == c2.size());
  for (size_t i = 0; i < c1.size(); ++i) CHECK(c2[i] == doctest::Approx(c1[i]).epsilon(1e-5));
  // And the two-rank cache serves a one-process run: it reads it instead of running the teacher.
  mustRun(run + " --teacher-cache " + dir / "t2.h5", dir / "c3");
  CHECK(readJson(dir / "c3/slmc_report.json")["passes"][1]["figures"]["teacher_cache"]["read"] == true);
  const std::vector<double> c3 = losses(dir / "c3");
  for (size_t i = 0; i < c1.size(); ++i) CHECK(c3[i] == doctest::Approx(c1[i]).epsilon(1e-5));
}

TEST_CASE("cli distill --nproc 2 --generate: the ranks sample their shares of the teacher's sequences") {
  ScratchDir dir("distill-dp-generate");
  const GeneratedStoriesData d("distill-dp-generate-data", 24, 4, 64);
  // 20 generated sequences, batches of 8: rank 0 samples batches 0 and 2, rank 1 batch 1.
  const std::string run = prunedStudentRun(d, 24, 3) + " --batch 4 --warmup 1 --generate 20";
  mustRun(run + " --teacher-cache " + dir / "t1.h5", dir / "one");
  mustRun(run + " --nproc 2 --teacher-cache " + dir / "t2.h5", dir / "two");
  // The cache holds every training sequence, the teacher's own first: the same ids either way.
  const TeacherTopK one = readTeacherCache(dir / "t1.h5"), two = readTeacherCache(dir / "t2.h5");
  REQUIRE(one.sequences == 20 + 24);
  CHECK(two.input_ids == one.input_ids);
  const std::vector<double> a = losses(dir / "one"), b = losses(dir / "two");
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-5));
}

TEST_CASE("cli distill: two processes started by hand with torchrun's variables join one group") {
  ScratchDir dir("distill-torchrun");
  const GeneratedStoriesData d("distill-torchrun-data", 24, 4, 64);
  const std::string run = prunedStudentRun(d, 24, 4) + " --batch 4 --warmup 2";
  mustRun(run, dir / "one");
  const std::string port = std::to_string(20000 + ::getpid() % 20000);
  const std::string both = "sh -c 'for r in 0 1; do RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port +
                           " " + SLMC_BINARY + " --threads 1 " + run + " -o " + dir / "torchrun" +
                           " & done; wait' >/dev/null 2>&1";
  REQUIRE(std::system(both.c_str()) == 0);
  const std::vector<double> a = losses(dir / "one"), c = losses(dir / "torchrun");
  REQUIRE(c.size() == 4);
  for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] == doctest::Approx(a[i]).epsilon(1e-5));
  CHECK(readJson(dir / "torchrun/slmc_report.json")["passes"][1]["figures"]["data_parallel_ranks"] == 2);
}

TEST_CASE("cli distill --nproc 2: a rank killed mid-run ends the run with one line, the checkpoint resumes") {
  ScratchDir dir("distill-dp-kill");
  const GeneratedStoriesData d("distill-dp-kill-data", 24, 4, 64);
  const std::string run = prunedStudentRun(d, 24, 6) + " --batch 4 --warmup 2 --nproc 2";
  mustRun(run, dir / "whole");

  const std::string out = dir / "cut", checkpoint = dir / "cut.checkpoint";
  for (const char* killed : {"1", "0"}) {
    CAPTURE(killed);
    fs::remove_all(checkpoint);
    CommandResult r{};
    {
      const ScopedEnv kill("SLMC_TEST_KILL_RANK_AT_STEP", std::string(killed) + ":4");
      r = runSlmc(run + " --checkpoint-every 1 -o " + out);
    }
    expectError(r, "data-parallel rank " + std::string(killed) + " of 2 was killed by signal 9");
    CHECK_MESSAGE(r.err.find("the other ranks stopped; the last checkpoint '" + checkpoint + "' is kept") !=
                      std::string::npos,
                  r.err);
    CHECK_FALSE(fs::exists(out));
    CHECK(readJson(checkpoint + "/state.json")["step"] == 3);  // steps 1-3 finished, 4 never did
  }
  mustRun(run + " --checkpoint-every 1 --resume " + checkpoint, out);
  CHECK(readJson(out + "/slmc_report.json")["passes"][1]["figures"]["resumed_from"] == 3);
  CHECK(losses(out) == losses(dir / "whole"));
  CHECK(maxDifference(out, dir / "whole") == 0);
}

TEST_CASE("cli distill: data-parallel groups that cannot work are refused with one line") {
  ScratchDir dir("distill-dp-bad");
  const GeneratedStoriesData d("distill-dp-bad-data", 12, 4, 64);
  const std::string run = prunedStudentRun(d, 12, 2);
  expectError(runSlmc(run + " --batch 3 --nproc 2 -o " + dir / "out"),
              "a batch of 3 sequences does not split over 2 data-parallel ranks");
  expectError(runSlmc(run + " --rank 1 -o " + dir / "out"), "--rank needs --world-size");
  expectError(runSlmc(run + " --rank 2 --world-size 2 -o " + dir / "out"), "rank 2 is outside a world of 2 processes");
  {
    const ScopedEnv world("WORLD_SIZE", "two");
    expectError(runSlmc(run + " -o " + dir / "out"), "environment variable WORLD_SIZE='two' is not an integer");
  }
  {
    const ScopedEnv world("WORLD_SIZE", "2");
    expectError(runSlmc(run + " --nproc 2 -o " + dir / "out"), "--nproc starts its own ranks");
  }
  CHECK(dir.entries() == 0);
}
