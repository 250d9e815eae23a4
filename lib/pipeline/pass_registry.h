// Every pass slmc knows, by name (LLVM's PassRegistry.def idea): one table feeds the pipeline
// builder, `slmc passes` and the help text, so the listing cannot go stale. Passes are
// registered explicitly (passes/builtin_passes.cpp), never discovered by side effect.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/pipeline/pass.h"
#include "lib/pipeline/pipeline.h"

namespace slmc {

using PassFactory = std::function<std::unique_ptr<Pass>()>;

// One pipeline name for a family of passes, chosen by an option: quantize(method=gptq,bits=4)
// runs the pass gptq(bits=4). Each member declares exactly its own options; the family only
// routes, so `slmc quantize --method M` and recipes written before the split keep working.
struct PassFamily {
  std::string name;                  // "quantize"
  std::string description;           // for `slmc passes`
  std::string selector;              // "method"
  std::vector<std::string> members;  // registered passes, by their names; the first is the default
};

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

  // Registers a family over passes already registered. Throws Error for a name already taken or
  // an unregistered member (bugs in the registration list).
  void addFamily(PassFamily family);
  const PassFamily* family(const std::string& name) const;  // null when `name` is no family

  // What `invocation` runs: itself for a pass, or for a family the member its selector names,
  // with the selector removed. Throws Error (naming the family as written) for an unknown member,
  // an option only other members take ("option 'damp' of pass 'quantize' applies to
  // method=gptq only (…)"), or one no member takes.
  PassInvocation resolve(const PassInvocation& invocation) const;

  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // A fresh pass with default options. Throws Error naming the known passes for an unknown name.
  std::unique_ptr<Pass> create(const std::string& name) const;
  // Passes in registration order, then families.
  std::vector<std::string> names() const;
  // What `slmc passes` prints: each pass with its description and options, then the families.
  std::string describe() const;

 private:
  struct Entry {
    std::string name;
    std::string description;
    PassFactory factory;
  };
  const Entry* find(const std::string& name) const;
  std::vector<Entry> entries_;
  std::vector<PassFamily> families_;
};

}  // namespace slmc
