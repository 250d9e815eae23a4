// slmc: the binary users run. `slmc run` and `slmc bench` (the runtime's commands, on packs) run
// here, in a process without LibTorch: loading and initialising LibTorch alone took ~0.36 s of
// every run's time to first token on SmolLM2 (llama.cpp answers in ~0.22 s). Every other
// command, and --help / --version, is handed to slmc-full next to this binary (main.cpp) by
// exec, with the same arguments, so its output and exit code are that command's own.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "apps/cli_main.h"

namespace {

int execFull(char** argv) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string full = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / "slmc-full";
  ::execv(full.c_str(), argv);
  std::fprintf(stderr, "slmc: error: cannot start %s (%s): slmc-full must sit next to slmc (reinstall slmc)\n",
               full.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = slmc::subcommandOf(argc, argv);
  if (command != "run" && command != "bench") return execFull(argv);
  return slmc::runCli(argc, argv, [](CLI::App& app, slmc::CommonOptions& common) {
    slmc::setupRun(app, common);
    slmc::setupBench(app, common);
  });
}
