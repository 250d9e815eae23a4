// Output paths: checked before any work (-o and --report), existing directories and the input
// itself refused unless --force (which replaces atomically), staging removed when a command is
// interrupted (SIGINT / SIGTERM) and stale staging of dead processes removed by the next run.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {

// Names in `dir` containing ".tmp." (staging directories and temp files).
std::vector<std::string> stagingIn(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  return found;
}

// A PID that no process has: a child that has exited and been reaped.
pid_t deadPid() {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

}  // namespace

TEST_CASE("cli outputs: --report and -o are checked before the work starts") {
  ScratchDir dir("out-report");
  const std::string quantize = "-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 ";
  CommandResult r = runSlmc(quantize + "-o " + dir / "q --report " + dir / "missing/r.json");
  expectError(r, "--report '" + dir / "missing/r.json" + "': directory '" + dir / "missing" + "' does not exist");
  CHECK(dir.entries() == 0);  // nothing written, no model either
  r = runSlmc(quantize + "-o " + dir / "q --report " + dir.path());
  expectError(r, "is a directory (give a file path)");
  r = runSlmc(quantize + "-o " + dir / "nowhere/q");
  expectError(r, "-o '" + dir / "nowhere/q" + "': directory '" + dir / "nowhere" + "' does not exist");
  CHECK(dir.entries() == 0);
  // --eval-data and --eval-tokens together: refused, not one of them silently ignored.
  writeFile(dir / "ids.txt", "1\n2\n3\n");
  r = runSlmc(quantize + "-o " + dir / "q --eval-tokens " + dir / "ids.txt --eval-data " + dir / "ids.txt");
  expectError(r, "--eval-data and --eval-tokens were both given");
  CHECK(dir.entries() == 1);
}

TEST_CASE("cli outputs: --json of eval, bench, validate and verify is checked before the work starts") {
  ScratchDir dir("out-json");
  REQUIRE(runSlmc("-q export " + stories260K() + " --format pack -o " + dir / "m.slmc").exit_code == 0);
  writeFile(dir / "ids.txt", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n");
  const std::string pack = dir / "m.slmc", json = dir / "missing/figures.json";
  const std::string missing = "--json '" + json + "': directory '" + dir / "missing" + "' does not exist";
  for (const std::string& command :
       {"eval " + pack + " --tokens " + dir / "ids.txt" + " --ctx 8", "eval " + stories260K() + " --tokens " +
        dir / "ids.txt" + " --ctx 8", "bench " + pack + " -n 2 --prompt 2 --no-bandwidth",
        "validate " + pack + " --tokens " + dir / "ids.txt" + " --ctx 8", "verify " + pack}) {
    CAPTURE(command);
    const CommandResult r = runSlmc("-q " + command + " --json " + json);
    expectError(r, missing);
    CHECK(r.out.empty());  // refused before any figure was computed
  }
  // The input itself is not a place for figures either.
  expectError(runSlmc("-q verify " + pack + " --json " + pack), "is the input model");
  CHECK(dir.entries() == 2);
}

TEST_CASE("cli outputs: an existing -o directory or the input itself is refused unless --force replaces it") {
  ScratchDir dir("out-force");
  const std::string quantize = "-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o ";
  REQUIRE(runSlmc(quantize + dir / "q").exit_code == 0);
  writeFile(dir / "q/stale.txt", "left from before");
  expectError(runSlmc(quantize + dir / "q"), "-o '" + dir / "q" + "' already exists");
  CHECK(fs::exists(dir / "q/stale.txt"));
  // --force replaces the directory whole: the old files are gone, the new model is complete.
  CommandResult r = runSlmc(quantize + dir / "q --force");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_FALSE(fs::exists(dir / "q/stale.txt"));
  CHECK(fs::exists(dir / "q/model.safetensors"));
  CHECK(fs::exists(dir / "q/slmc_report.json"));
  CHECK(stagingIn(dir.path()).empty());
  // A folder that is not a model directory is never replaced, even with --force.
  fs::create_directories(dir / "photos");
  writeFile(dir / "photos/a.jpg", "x");
  expectError(runSlmc(quantize + dir / "photos --force"), "holds no config.json");
  CHECK(fs::exists(dir / "photos/a.jpg"));

  // -o equal to the input.
  REQUIRE(runSlmc("-q export " + stories260K() + " --format hf -o " + dir / "hf").exit_code == 0);
  expectError(runSlmc("-q prune " + dir / "hf" + " --method magnitude --sparsity 0.5 -o " + dir / "hf"),
              "is the input model");
  expectError(runSlmc("-q export " + dir / "hf" + " --format hf -o " + dir / "hf"), "is the input model");
  // The input named by a file inside its directory is still that directory.
  for (const char* file : {"config.json", "model.safetensors"}) {
    expectError(runSlmc("-q quantize " + dir / "hf/" + file + " --method rtn --bits 8 -o " + dir / "hf"),
                "is the input model");
    expectError(runSlmc("-q export " + dir / "hf/" + file + " --format hf -o " + dir / "hf/"), "is the input model");
  }
  REQUIRE(runSlmc("-q export " + stories260K() + " -o " + dir / "m.slmc").exit_code == 0);
  expectError(runSlmc("-q export " + dir / "m.slmc" + " -o " + dir / "m.slmc"), "is the input model");
  r = runSlmc("-q export " + dir / "hf" + " --format hf -o " + dir / "hf --force");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(fs::exists(dir / "hf/config.json"));
  CHECK(stagingIn(dir.path()).empty());
}

TEST_CASE("cli outputs: export --format hf to a name.slmc is refused") {
  ScratchDir dir("out-hf-slmc");
  expectError(runSlmc("-q export " + stories260K() + " --format hf -o " + dir / "m.slmc"),
              "--format hf writes a directory, but -o '" + dir / "m.slmc" + "' is named like a pack");
  CHECK(dir.entries() == 0);
}

TEST_CASE("cli outputs: stale staging of dead processes is removed, live ones are kept") {
  ScratchDir dir("out-stale");
  const pid_t dead = deadPid();
  fs::create_directories(dir / ("q.tmp." + std::to_string(dead)));
  writeFile(dir / ("q.tmp." + std::to_string(dead)) + "/model.safetensors", "half");
  fs::create_directories(dir / ("q.tmp." + std::to_string(::getpid())));  // a live process (this test)
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o " + dir / "q").exit_code ==
          0);
  CHECK_FALSE(fs::exists(dir / ("q.tmp." + std::to_string(dead))));
  CHECK(fs::exists(dir / ("q.tmp." + std::to_string(::getpid()))));
}

TEST_CASE("cli outputs: SIGTERM and SIGINT remove the command's staging") {
  for (const int sig : {SIGTERM, SIGINT}) {
    ScratchDir dir("out-signal");
    GeneratedStoriesData data("out-signal-data", 64, 1, 64);
    // GPTQ fills its statistics cache layer by layer: its temp file exists for the whole calibration.
    const std::string cmd = "exec " + std::string(SLMC_BINARY) + " -q quantize " + stories260K() +
                            " --method gptq --bits 4 --group-size 32 --data " + data.calib +
                            " --samples 64 --seq-len 64 --stats-cache " + dir / "stats.h5" + " -o " + dir / "q";
    const pid_t pid = fork();
    REQUIRE(pid >= 0);  // a failed fork must never lead to kill(-1, ...)
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    bool seen = false;
    int status = 0;
    for (int i = 0; i < 6000 && !seen; ++i) {  // up to a minute; a run takes a few seconds
      seen = !stagingIn(dir.path()).empty();
      if (!seen) {
        if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished before a poll saw the temp file
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (seen) {
      kill(pid, sig);
      waitpid(pid, &status, 0);
      CHECK(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == sig);
      CHECK(stagingIn(dir.path()).empty());
      CHECK_FALSE(fs::exists(dir / "q"));
    } else {
      MESSAGE("the run finished before its temp file was seen; nothing to interrupt");
    }
  }
}

TEST_CASE("cli outputs: a full disk while GPTQ writes its statistics cache ends in one line and a clean exit") {
  ScratchDir dir("out-full");
  GeneratedStoriesData data("out-full-data", 8, 1, 32);
  // `ulimit -f` makes writes past 4 KiB fail as a full disk does (SIGXFSZ ignored: EFBIG).
  // HDF5's own shutdown at exit used to crash (SIGSEGV) after slmc had printed its error.
  const std::string cmd = "sh -c \"trap '' XFSZ; ulimit -f 8; exec " + std::string(SLMC_BINARY) + " -q quantize " +
                          stories260K() + " --method gptq --bits 4 --group-size 32 --data " + data.calib +
                          " --samples 8 --seq-len 32 --stats-cache " + dir / "stats.h5" + " -o " + dir / "q" +
                          "\" >" + dir / "out" + " 2>" + dir / "err";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  const std::string err = readFile(dir / "err");
  CHECK_MESSAGE(err.find("writing stats cache '" + dir / "stats.h5" + "' failed (disk full or not writable?)") !=
                    std::string::npos,
                err);
  CHECK(countLines(err) == 1);
  fs::remove(dir / "out");
  fs::remove(dir / "err");
  CHECK(dir.entries() == 0);  // no cache, no temp file, no model
}
