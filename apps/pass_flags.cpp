#include "apps/pass_flags.h"

#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "lib/support/join_text.h"

namespace slmc {

std::string flagNameFor(const std::string& option) {
  std::string flag = "--" + option;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

PassFlags::PassFlags(CLI::App* sub, const Pass& declared, const std::vector<FlagSpelling>& spellings,
                     const std::vector<std::string>& skip) {
  addFlags(sub, {&declared}, spellings, skip);
}

PassFlags::PassFlags(CLI::App* sub, const PassRegistry& registry, const std::string& family,
                     const std::vector<FlagSpelling>& spellings) {
  const PassFamily* f = registry.family(family);
  require(f != nullptr, "internal: no pass family '" + family + "'");
  std::vector<std::unique_ptr<Pass>> members;
  std::vector<const Pass*> declared;
  for (const std::string& m : f->members) {
    members.push_back(registry.create(m));
    declared.push_back(members.back().get());
  }
  Flag selector;
  selector.option = f->selector;
  selector.flag = flagNameFor(f->selector);
  std::string help = "the pass to run:";
  for (size_t i = 0; i < members.size(); ++i) help += (i ? "; " : " ") + f->members[i] + ": " + members[i]->description();
  selector.cli = sub->add_option(selector.flag)
                     ->description(help + " (default " + f->members.front() + ")")
                     ->type_name("<string>")
                     ->check(CLI::IsMember(f->members));
  flags_.push_back(std::move(selector));
  addFlags(sub, declared, spellings, {});
}

void PassFlags::addFlags(CLI::App* sub, const std::vector<const Pass*>& declared,
                         const std::vector<FlagSpelling>& spellings, const std::vector<std::string>& skip) {
  // Every option once, in the order of first declaration (shared blocks come first).
  std::vector<const OptionBase*> options;
  for (const Pass* p : declared)
    for (const OptionBase* o : p->options()) {
      bool seen = false;
      for (const OptionBase* s : options) seen = seen || s->name() == o->name();
      if (!seen) options.push_back(o);
    }
  for (const OptionBase* o : options) {
    bool skipped = false;
    for (const std::string& s : skip) skipped = skipped || s == o->name();
    if (skipped) continue;
    const FlagSpelling* spelling = nullptr;
    for (const FlagSpelling& s : spellings)
      if (s.option == o->name()) spelling = &s;
    // The passes that take it, and their defaults where they differ from the first one's.
    std::vector<std::string> takers, other_defaults;
    for (const Pass* p : declared)
      if (const OptionBase* mine = p->findOption(o->name())) {
        takers.push_back(p->argument());
        if (mine->defaultText() != o->defaultText())
          other_defaults.push_back(p->argument() + ": default " + mine->defaultText());
      }
    Flag f;
    f.option = o->name();
    const std::string type = o->typeName();
    std::string help = o->help();
    if (takers.size() < declared.size()) help = joinText(takers) + ": " + help;
    if (type == "bool") {
      // A switch away from the default: the default needs no flag.
      const bool on = o->defaultText() != "true";
      f.switch_value = on ? "true" : "false";
      f.flag = spelling ? spelling->flag : on ? flagNameFor(o->name()) : "--no-" + flagNameFor(o->name()).substr(2);
      help += " (sets " + o->name() + "=" + f.switch_value + ")";
      f.cli = sub->add_flag(f.flag)->description(help);
    } else {
      f.flag = spelling ? spelling->flag : flagNameFor(o->name());
      f.list = type == "list";
      // A string's choices show in the flag's type ({rtn,gptq,…}); numbers' constraints in the help.
      const bool member_check = type == "string" && !o->choiceTexts().empty();
      const std::string constraint = o->constraintText();
      if (!constraint.empty() && !member_check) help += "; " + constraint;
      help += " (default " + (o->defaultText().empty() ? std::string("\"\"") : o->defaultText());
      for (const std::string& d : other_defaults) help += "; " + d;
      help += ")";
      // No bound variable: the raw text is read back with results(), for the option's codec.
      f.cli = sub->add_option(f.flag)->description(help)->type_name("<" + type + ">");
      if (f.list) {
        f.cli->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        if (!spelling || spelling->split_commas) f.cli->delimiter(',');
      } else if (member_check) {
        // A misspelt word is a usage error (exit 2) before any work, like an unknown flag.
        f.cli->check(CLI::IsMember(o->choiceTexts()));
      }
    }
    flags_.push_back(std::move(f));
  }
}

OptionAssignments PassFlags::given() const {
  OptionAssignments out;
  for (const Flag& f : flags_) {
    if (!f.cli->count()) continue;
    if (!f.switch_value.empty())
      out.emplace_back(f.option, f.switch_value);
    else if (f.list)
      out.emplace_back(f.option, listValueText(f.cli->results()));
    else
      out.emplace_back(f.option, f.cli->results().back());
  }
  return out;
}

const PassFlags::Flag* PassFlags::find(const std::string& option) const {
  for (const Flag& f : flags_)
    if (f.option == option) return &f;
  return nullptr;
}

bool PassFlags::isGiven(const std::string& option) const {
  const Flag* f = find(option);
  require(f != nullptr, "internal: no flag for option '" + option + "'");
  return f->cli->count() > 0;
}

std::string PassFlags::flagsText(const std::vector<std::string>& options) const {
  std::string text;
  for (const std::string& o : options) {
    const Flag* f = find(o);
    text += (text.empty() ? "" : ", ") + (f ? f->flag : o);
  }
  return text;
}

}  // namespace slmc
