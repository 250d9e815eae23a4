// One command-line flag per declared option of a pass (lib/pipeline/pass_options.h), so a command's flags
// and the pass's options cannot drift: `group_size` becomes `--group-size` with the declaration's
// help, constraint and default; a bool option becomes a switch that sets the opposite of its
// default (`act_order` → `--act-order`, `scale_search` → `--no-scale-search`); a list option
// takes comma-separated or repeated values. Values reach the pass as the user wrote them and are
// parsed by the option's own codec (`--damp 1e-7` stays 1e-7).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "lib/pipeline/pass.h"
#include "lib/pipeline/pass_registry.h"

namespace slmc {

// A flag spelled other than the option's name, e.g. {"symmetric", "--asymmetric"}, or
// {"schemes", "--scheme", false} for a list whose elements may hold commas.
struct FlagSpelling {
  std::string option;
  std::string flag;
  bool split_commas = true;  // list options only
};

// "--group-size" for "group_size".
std::string flagNameFor(const std::string& option);

class PassFlags {
 public:
  // Adds a flag to `sub` for every option of `declared` except those in `skip` (options the
  // command sets itself).
  PassFlags(CLI::App* sub, const Pass& declared, const std::vector<FlagSpelling>& spellings = {},
            const std::vector<std::string>& skip = {});
  // The flags of a pass family (pass_registry.h): its selector (`--method`, one of the members)
  // and every option of any member, once; an option only some members take says which in its
  // help ("gptq: damping …"), a default that differs names the member ("default 4; smoothquant:
  // default 8"). Whether the chosen member takes the options given is the family's to check.
  PassFlags(CLI::App* sub, const PassRegistry& registry, const std::string& family,
            const std::vector<FlagSpelling>& spellings = {});

  // The options whose flags were given, in declaration order, as pipeline option values.
  OptionAssignments given() const;
  bool isGiven(const std::string& option) const;
  // "--damp, --block-size" for the flags of `options`, for messages.
  std::string flagsText(const std::vector<std::string>& options) const;

 private:
  struct Flag {
    std::string option;
    std::string flag;
    CLI::Option* cli = nullptr;
    std::string switch_value;  // a bool's switch: the value it sets ("" for valued flags)
    bool list = false;
  };
  const Flag* find(const std::string& option) const;
  // Adds the flags of `declared` (the members of a family, or one pass); `takers[k]` names the
  // passes that declare option k when not all of them do.
  void addFlags(CLI::App* sub, const std::vector<const Pass*>& declared, const std::vector<FlagSpelling>& spellings,
                const std::vector<std::string>& skip);
  std::vector<Flag> flags_;
};

}  // namespace slmc
