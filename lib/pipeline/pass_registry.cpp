#include "lib/pipeline/pass_registry.h"

#include <algorithm>

#include "lib/support/error.h"
#include "lib/support/join_text.h"

namespace slmc {

void PassRegistry::add(const std::string& name, const std::string& description, PassFactory factory) {
  require(!contains(name) && family(name) == nullptr, "internal: pass '" + name + "' is registered twice");
  require(static_cast<bool>(factory), "internal: pass '" + name + "' is registered without a factory");
  const std::unique_ptr<Pass> probe = factory();
  require(probe != nullptr && probe->argument() == name,
          "internal: pass registered as '" + name + "' calls itself '" + (probe ? probe->argument() : "") + "'");
  entries_.push_back({name, description, std::move(factory)});
}

void PassRegistry::addFamily(PassFamily f) {
  require(!contains(f.name) && family(f.name) == nullptr, "internal: pass '" + f.name + "' is registered twice");
  require(!f.members.empty(), "internal: pass family '" + f.name + "' has no members");
  for (const std::string& m : f.members)
    require(contains(m), "internal: pass family '" + f.name + "' names unregistered pass '" + m + "'");
  families_.push_back(std::move(f));
}

const PassFamily* PassRegistry::family(const std::string& name) const {
  for (const PassFamily& f : families_)
    if (f.name == name) return &f;
  return nullptr;
}

PassInvocation PassRegistry::resolve(const PassInvocation& invocation) const {
  const PassFamily* f = family(invocation.name);
  if (f == nullptr) return invocation;
  PassInvocation out{f->members.front(), {}};
  for (const auto& [key, value] : invocation.options)
    if (key == f->selector) {
      require(std::find(f->members.begin(), f->members.end(), value) != f->members.end(),
              "option '" + key + "' of pass '" + f->name + "': '" + value + "' is not one of " +
                  joinText(f->members));
      out.name = value;
    }
  // Options by member, so that one another member takes is named as such instead of unknown.
  std::vector<std::unique_ptr<Pass>> members;
  std::vector<std::string> known = {f->selector};
  for (const std::string& m : f->members) {
    members.push_back(create(m));
    for (const std::string& o : members.back()->optionNames())
      if (std::find(known.begin(), known.end(), o) == known.end()) known.push_back(o);
  }
  const Pass& chosen = *members[static_cast<size_t>(
      std::find(f->members.begin(), f->members.end(), out.name) - f->members.begin())];
  for (const auto& assignment : invocation.options) {
    const std::string& key = assignment.first;
    if (key == f->selector) continue;
    if (chosen.findOption(key) == nullptr) {
      std::vector<std::string> takers;
      for (size_t i = 0; i < members.size(); ++i)
        if (members[i]->findOption(key) != nullptr) takers.push_back(f->selector + "=" + f->members[i]);
      if (!takers.empty())
        throw Error("option '" + key + "' of pass '" + f->name + "' applies to " + joinText(takers, " or ") +
                    " only (remove it or change " + f->selector + ")");
      std::string message = "unknown option '" + key + "' for pass '" + f->name + "' (options: " + joinText(known);
      const std::string guess = closestMatch(key, known);
      if (!guess.empty()) message += "; did you mean '" + guess + "'?";
      throw Error(message + ")");
    }
    out.options.push_back(assignment);
  }
  return out;
}

const PassRegistry::Entry* PassRegistry::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::unique_ptr<Pass> PassRegistry::create(const std::string& name) const {
  const Entry* entry = find(name);
  require(family(name) == nullptr, "internal: pass family '" + name + "' is created through resolve()");
  if (entry == nullptr) {
    std::string message = "unknown pass '" + name + "' (passes: ";
    const std::vector<std::string> known = names();
    message += joinText(known);
    if (known.empty()) message += "none registered";
    message += "; see `slmc passes`";
    const std::string guess = closestMatch(name, known);
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    throw Error(message + ")");
  }
  return entry->factory();
}

std::vector<std::string> PassRegistry::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  for (const PassFamily& f : families_) out.push_back(f.name);
  return out;
}

std::string PassRegistry::describe() const {
  std::string out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    const std::unique_ptr<Pass> pass = e.factory();
    out += (i ? "\n" : "") + e.name + ": " + e.description + "\n";
    out += pass->options().empty() ? "    (no options)\n" : pass->describeOptions("    ");
  }
  for (const PassFamily& f : families_) {
    std::vector<std::string> members = f.members;
    members.front() += " (default)";
    out += "\n" + f.name + ": " + f.description + "\n    " + f.selector + "=<string>  the pass to run: " +
           joinText(members) + "; every other option is that pass's own\n";
  }
  return out;
}

}  // namespace slmc
