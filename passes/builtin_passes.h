// Registers every pass slmc ships with the registry (one explicit list: static libraries drop
// self-registering objects nobody references).
#pragma once

namespace slmc {
class PassRegistry;
void registerBuiltinPasses(PassRegistry& registry);
}  // namespace slmc
