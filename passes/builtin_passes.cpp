#include "passes/builtin_passes.h"

#include "lib/pipeline/pass_registry.h"
#include "passes/distill/distill_pass.h"
#include "passes/export/export_pass.h"
#include "passes/prune/prune_pass.h"
#include "passes/prune/prune_structured_pass.h"
#include "passes/quantize/quantize_pass.h"

namespace slmc {

// Listed in the order `slmc passes` shows them (and a typical pipeline runs them).
void registerBuiltinPasses(PassRegistry& registry) {
  registry.add<PruneStructuredPass>();
  registry.add<PrunePass>();
  registry.add<DistillPass>();
  registry.add<QuantizePass>();
  registry.add<ExportPass>();
}

}  // namespace slmc
