#include "passes/builtin_passes.h"

#include "lib/pipeline/pass_registry.h"
#include "passes/distill/distill_pass.h"
#include "passes/export/export_pass.h"
#include "passes/prune/magnitude_pass.h"
#include "passes/prune/prune_structured_pass.h"
#include "passes/prune/sparsegpt_pass.h"
#include "passes/prune/wanda_pass.h"
#include "passes/quantize/awq_pass.h"
#include "passes/quantize/gptq_pass.h"
#include "passes/quantize/rtn_pass.h"
#include "passes/quantize/smoothquant_pass.h"

namespace slmc {

// Listed in the order `slmc passes` shows them (and a typical pipeline runs them).
void registerBuiltinPasses(PassRegistry& registry) {
  registry.add<PruneStructuredPass>();
  registry.add<MagnitudePass>();
  registry.add<WandaPass>();
  registry.add<SparseGptPass>();
  registry.add<DistillPass>();
  registry.add<RtnPass>();
  registry.add<GptqPass>();
  registry.add<AwqPass>();
  registry.add<SmoothQuantPass>();
  registry.add<ExportPass>();
  // The spellings `slmc prune` / `slmc quantize` and recipes use: the method picks the pass.
  registry.addFamily({"prune", "unstructured or N:M weight pruning: magnitude, Wanda, SparseGPT", "method",
                      {"magnitude", "wanda", "sparsegpt"}});
  registry.addFamily({"quantize", "post-training quantization: RTN, GPTQ, AWQ weights; SmoothQuant W8A8", "method",
                      {"rtn", "gptq", "awq", "smoothquant"}});
}

}  // namespace slmc
