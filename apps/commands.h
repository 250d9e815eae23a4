// One setup/run pair per subcommand (CLI11's subcom_in_files pattern): setupX registers the
// subcommand and its options on the app and arranges for runX to be called when it is chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace slmc {

// Options every subcommand shares.
struct CommonOptions {
  int threads = 0;  // 0: all cores
  bool quiet = false;
  std::vector<std::string> argv;  // the command line as given, argv[0] first (to start ranks of it)
};

void setupInspect(CLI::App& app);
void setupEval(CLI::App& app, const CommonOptions& common);
void setupExport(CLI::App& app, const CommonOptions& common);
void setupDataset(CLI::App& app);
void setupQuantize(CLI::App& app, const CommonOptions& common);
void setupPrune(CLI::App& app, const CommonOptions& common);
void setupCompress(CLI::App& app, const CommonOptions& common);
void setupDistill(CLI::App& app, const CommonOptions& common);
void setupPasses(CLI::App& app);
void setupVerify(CLI::App& app);
void setupRun(CLI::App& app, const CommonOptions& common);
void setupValidate(CLI::App& app, const CommonOptions& common);
void setupBench(CLI::App& app, const CommonOptions& common);
void setupTokenize(CLI::App& app);
void setupReport(CLI::App& app);

// Shared by the commands that run a pack in the runtime (defined in run_command.cpp).
class PackFile;
struct PerplexityResult;
namespace runtime {
class Transformer;
}
// Opens `path` for the runtime: one clear error when it is missing or not a .slmc pack.
// `max_context` caps the KV cache (0: the model's context).
runtime::Transformer openPackForRuntime(const std::string& path, int64_t max_context = 0);
// The pack's embedded tokenizer files written to a temporary directory (removed at exit) for
// loadTokenizer; "" when the pack carries none.
std::string packTokenizerPath(const PackFile& pack);
// lib/reference/perplexity.h's windows (evalWindows), scored by the runtime.
PerplexityResult runtimePerplexity(runtime::Transformer& model, const std::vector<int32_t>& ids, int64_t ctx,
                                   int64_t stride, bool second_half = false,
                                   const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace slmc
