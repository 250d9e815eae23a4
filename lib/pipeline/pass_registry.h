// Every pass slmc knows, by name (LLVM's PassRegistry.def idea): one table feeds the pipeline
// builder, `slmc passes` and the help text, so the listing cannot go stale. Passes are
// registered explicitly (passes/builtin_passes.cpp), never discovered by side effect.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/pipeline/pass.h"

namespace slmc {

using PassFactory = std::function<std::unique_ptr<Pass>()>;

class PassRegistry {
 public:
  // Registers a pass. Throws Error for a name already taken or a factory whose pass calls
  // itself by another name (both are bugs in the registration list).
  void add(const std::string& name, const std::string& description, PassFactory factory);
  // Registers P under the argument and description it declares itself.
  template <typename P>
  void add() {
    P probe;
    add(probe.argument(), probe.description(), [] { return std::unique_ptr<Pass>(new P()); });
  }

  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // A fresh pass with default options. Throws Error naming the known passes for an unknown name.
  std::unique_ptr<Pass> create(const std::string& name) const;
  // In registration order.
  std::vector<std::string> names() const;
  // What `slmc passes` prints: each pass with its description and options.
  std::string describe() const;

 private:
  struct Entry {
    std::string name;
    std::string description;
    PassFactory factory;
  };
  const Entry* find(const std::string& name) const;
  std::vector<Entry> entries_;
};

}  // namespace slmc
