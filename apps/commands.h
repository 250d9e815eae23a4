// One setup/run pair per subcommand (CLI11's subcom_in_files pattern): setupX registers the
// subcommand and its options on the app and arranges for runX to be called when it is chosen.
#pragma once

#include <CLI/CLI.hpp>

namespace slmc {

// Options every subcommand shares.
struct CommonOptions {
  int threads = 0;  // 0: all cores
  bool quiet = false;
};

void setupInspect(CLI::App& app);
void setupEval(CLI::App& app, const CommonOptions& common);
void setupExport(CLI::App& app, const CommonOptions& common);
void setupDataset(CLI::App& app);
void setupQuantize(CLI::App& app, const CommonOptions& common);
void setupCompress(CLI::App& app, const CommonOptions& common);
void setupPasses(CLI::App& app);
void setupVerify(CLI::App& app);

}  // namespace slmc
