// What both slmc binaries' main() share: the app with its global options (--threads, --quiet,
// --version), the subcommands `add_commands` registers, and failures mapped to exit codes: 0
// success, 1 runtime error (bad input file, failed pass, failed gate), 2 usage (bad flags,
// malformed gate, reports that cannot be compared).
#pragma once

#include <functional>
#include <string>

#include "apps/commands.h"

namespace slmc {

int runCli(int argc, char** argv, const std::function<void(CLI::App&, CommonOptions&)>& add_commands);

// The subcommand argv names: the first argument that is neither one of runCli's global options
// nor --threads' value; "" when there is none (--help, --version, nothing).
std::string subcommandOf(int argc, char** argv);

}  // namespace slmc
