#include "passes/builtin_passes.h"

#include "lib/pass_registry.h"
#include "passes/quantize/quantize_pass.h"

namespace slmc {

void registerBuiltinPasses(PassRegistry& registry) { registry.add<QuantizePass>(); }

}  // namespace slmc
