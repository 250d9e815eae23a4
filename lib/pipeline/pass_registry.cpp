#include "lib/pipeline/pass_registry.h"

#include "lib/support/error.h"

namespace slmc {

void PassRegistry::add(const std::string& name, const std::string& description, PassFactory factory) {
  require(!contains(name), "internal: pass '" + name + "' is registered twice");
  require(static_cast<bool>(factory), "internal: pass '" + name + "' is registered without a factory");
  const std::unique_ptr<Pass> probe = factory();
  require(probe != nullptr && probe->argument() == name,
          "internal: pass registered as '" + name + "' calls itself '" + (probe ? probe->argument() : "") + "'");
  entries_.push_back({name, description, std::move(factory)});
}

const PassRegistry::Entry* PassRegistry::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::unique_ptr<Pass> PassRegistry::create(const std::string& name) const {
  const Entry* entry = find(name);
  if (entry == nullptr) {
    std::string message = "unknown pass '" + name + "' (passes: ";
    const std::vector<std::string> known = names();
    for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
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
  return out;
}

}  // namespace slmc
