#include "apps/cli_main.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "apps/rank_launcher.h"
#include "lib/report/usage_error.h"
#include "lib/support/error.h"
#include "lib/support/temp_paths.h"
#include "lib/support/version.h"

namespace slmc {

namespace {
// The global options, here once for runCli and subcommandOf.
constexpr const char* kThreads = "--threads";
constexpr const char* kQuietShort = "-q";
constexpr const char* kQuietLong = "--quiet";

// The one error line of a failed command: on stderr, or, in a rank that `slmc distill --nproc`
// started (apps/rank_launcher.h), into the file the launcher reads to print one line for all.
void printError(const char* kind, const char* message) {
  if (const char* path = std::getenv(kRankErrorFileVariable)) {
    if (std::FILE* f = std::fopen(path, "w")) {
      std::fprintf(f, "%s: %s\n", kind, message);
      std::fclose(f);
      return;
    }
  }
  std::fprintf(stderr, "slmc: %s: %s\n", kind, message);
}
}  // namespace

int runCli(int argc, char** argv, const std::function<void(CLI::App&, CommonOptions&)>& add_commands) {
  // Before any thread exists: an interrupted command removes its staging files.
  installTempPathCleanup();
  CLI::App app{"slmc: compress pretrained small language models (quantize, prune, distill, export)"};
  app.set_version_flag("--version", std::string("slmc ") + kVersion);
  app.require_subcommand(1);
  CommonOptions common;
  common.argv.assign(argv, argv + argc);
  // More threads than a few per hardware thread only thrash (and 100000 exhausts memory on stacks).
  const int max_threads = 8 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option(kThreads, common.threads, "CPU threads for compute (default: all cores)")
      ->check(CLI::Validator(
          [max_threads](std::string& value) -> std::string {
            int n = -1;
            const bool number = CLI::detail::lexical_cast(value, n);
            if (number && n >= 0 && n <= max_threads) return "";
            return value + " is not a thread count: give 0 (all cores) to " +
                   std::to_string(max_threads) + " (8 per hardware thread)";
          },
          "0.." + std::to_string(max_threads), "thread count"));
  app.add_flag(std::string(kQuietShort) + "," + kQuietLong, common.quiet, "no progress line");
  app.fallthrough();
  add_commands(app, common);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const UsageError& e) {
    printError("error", e.what());
    return 2;
  } catch (const Error& e) {
    printError("error", e.what());
    return 1;
  } catch (const std::exception& e) {
    printError("internal error", (std::string(e.what()) + " (please report this)").c_str());
    return 1;
  }
  return 0;
}

std::string subcommandOf(int argc, char** argv) {
  const std::string threads_equals = std::string(kThreads) + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == kThreads) {
      ++i;  // its value
      continue;
    }
    if (a == kQuietShort || a == kQuietLong || a.rfind(threads_equals, 0) == 0) continue;
    return a.empty() || a[0] == '-' ? "" : a;
  }
  return "";
}

}  // namespace slmc
