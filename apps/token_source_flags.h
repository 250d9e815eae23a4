// The flags that name a token stream (`--tokens` or `--data` with its tokenizer and text format),
// registered once for every command that scores tokens (eval, validate).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "datasets/token_source.h"

namespace slmc {

// `data_names` is the CLI11 name list of the data option ("--data" or "--data,--eval-data");
// `tokenizer_help` says where the tokenizer comes from by default for this command.
void addTokenSourceFlags(CLI::App* sub, TokenSourceOptions& source, const std::string& data_names,
                         const std::string& tokenizer_help);

}  // namespace slmc
