// One pass per method, reached also through its family's spelling (lib/pipeline/pass_registry.h):
// quantize(method=gptq,…) runs the pass gptq(…), prune(method=wanda,…) runs wanda(…). Each pass
// takes exactly its own options; the family routes them and names what was written in errors.
#include <doctest/doctest.h>

#include "lib/model/random_model.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "passes/builtin_passes.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {
const PassRegistry& builtins() {
  static const PassRegistry r = [] {
    PassRegistry registry;
    registerBuiltinPasses(registry);
    return registry;
  }();
  return r;
}

PassInvocation resolved(const std::string& text) { return builtins().resolve(parsePipeline(text).at(0)); }

std::string buildError(const std::string& text) {
  PassManager manager(builtins());
  return errorOf([&] { manager.build(parsePipeline(text)); });
}
}  // namespace

TEST_CASE("pass family: the selector picks the member and is removed, other options pass through in order") {
  CHECK(resolved("quantize(method=gptq,bits=3,damp=0.05)") ==
        PassInvocation{"gptq", {{"bits", "3"}, {"damp", "0.05"}}});
  CHECK(resolved("quantize(bits=8)") == PassInvocation{"rtn", {{"bits", "8"}}});  // the first member by default
  CHECK(resolved("prune(method=sparsegpt,block_size=64)") == PassInvocation{"sparsegpt", {{"block_size", "64"}}});
  CHECK(resolved("gptq(bits=4)") == PassInvocation{"gptq", {{"bits", "4"}}});  // a pass resolves to itself
  CHECK(builtins().family("quantize")->members == std::vector<std::string>{"rtn", "gptq", "awq", "smoothquant"});
  CHECK(builtins().family("gptq") == nullptr);
}

TEST_CASE("pass family: an option of another member, an unknown option or member is named as written") {
  checkError(errorOf([] { resolved("quantize(method=rtn,damp=0.1)"); }),
             "option 'damp' of pass 'quantize' applies to method=gptq only (remove it or change method)");
  checkError(errorOf([] { resolved("quantize(percentile=99,alpha=0.5)"); }),
             "option 'alpha' of pass 'quantize' applies to method=smoothquant only");
  checkError(errorOf([] { resolved("prune(method=wanda,damp=0.1)"); }), "applies to method=sparsegpt only");
  checkError(errorOf([] { resolved("quantize(method=hqq)"); }),
             "option 'method' of pass 'quantize': 'hqq' is not one of rtn, gptq, awq, smoothquant");
  checkError(errorOf([] { resolved("quantize(bitz=4)"); }), "unknown option 'bitz' for pass 'quantize' (options: method, bits");
  CHECK(errorOf([] { resolved("quantize(bitz=4)"); }).find("did you mean 'bits'?") != std::string::npos);
  // The member's own checks still say 'quantize' when that is what was written.
  checkError(buildError("quantize(method=gptq,block_size=many)"),
             "pass 1: option 'block_size' of pass 'quantize': 'many' is not an integer");
  checkError(buildError("gptq(block_size=many)"), "pass 1: option 'block_size' of pass 'gptq': 'many' is not an integer");
  // A member takes no selector of its own.
  checkError(buildError("gptq(method=gptq)"), "pass 1: unknown option 'method' for pass 'gptq'");
  checkError(buildError("quantise(bits=4)"), "did you mean 'quantize'?");
}

TEST_CASE("pass family: each member declares only its own options, with its own defaults") {
  PassManager manager(builtins());
  manager.build(parsePipeline("quantize(method=smoothquant),rtn,prune(method=magnitude),sparsegpt"));
  const Pass& smooth = manager.pass(0);
  CHECK(smooth.argument() == "smoothquant");
  CHECK(smooth.optionsJson()["bits"] == 8);  // W8A8 per channel, smoothquant's own defaults
  CHECK(smooth.optionsJson()["group_size"] == 0);
  CHECK(smooth.findOption("damp") == nullptr);
  const Pass& rtn = manager.pass(1);
  CHECK(rtn.optionsJson()["bits"] == 4);
  CHECK(rtn.findOption("alpha") == nullptr);
  CHECK(rtn.findOption("method") == nullptr);
  CHECK(manager.pass(2).findOption("damp") == nullptr);
  CHECK(manager.pass(3).findOption("damp") != nullptr);
  // The pipeline text keeps the spelling it was written in.
  CHECK(manager.pipelineText() == "quantize(method=smoothquant),rtn,prune(method=magnitude),sparsegpt");
}

TEST_CASE("pass family: a record names the spelling and the pass that ran, calibration hints follow the spelling") {
  Model model = randomModel(tinyLlamaConfig(), 3);
  PassContext context;
  context.quiet = true;
  PassManager manager(builtins());
  manager.build(parsePipeline("quantize(method=rtn,bits=8,keep={lm_head,embed})"));
  const std::vector<PassRecord> records = manager.run(model, context);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "quantize");
  CHECK(records[0].pass == "rtn");
  CHECK(records[0].invocation == "quantize(method=rtn,bits=8,keep={lm_head,embed})");
  CHECK(records[0].result.summary.find("with rtn") != std::string::npos);

  Model fresh = randomModel(tinyLlamaConfig(), 3);
  manager.build(parsePipeline("quantize(method=gptq)"));
  checkError(errorOf([&] { manager.validate(fresh, context); }),
             "pass 1 'quantize(method=gptq)' needs calibration data: pass --data FILE (or use method=rtn)");
  manager.build(parsePipeline("gptq"));
  checkError(errorOf([&] { manager.validate(fresh, context); }), "needs calibration data: pass --data FILE (or use rtn)");
  manager.build(parsePipeline("prune(method=wanda)"));
  checkError(errorOf([&] { manager.validate(fresh, context); }), "(or use method=magnitude)");
}

TEST_CASE("cli pass family: a method's pass written directly makes the same artifact as the family spelling") {
  ScratchDir dir("cli-pass-family");
  const std::string m = stories260K();
  CommandResult r = runSlmc("-q quantize " + m + " --method rtn --bits 4 --group-size 32 -o " + dir / "a");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = runSlmc("-q compress " + m + " --passes \"rtn(bits=4,group_size=32)\" -o " + dir / "b");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // Same tensors, grids and codes: the same safetensors; only the recorded pipeline differs.
  const std::string weights = readFile(dir / "a/model.safetensors");
  CHECK(weights.size() > 100000);
  CHECK(weights == readFile(dir / "b/model.safetensors"));
  const nlohmann::json a = readJson(dir / "a/slmc_report.json"), b = readJson(dir / "b/slmc_report.json");
  CHECK(a["passes"][0]["name"] == "quantize");
  CHECK(a["passes"][0]["pass"] == "rtn");
  CHECK(b["passes"][0]["name"] == "rtn");
  CHECK(b["passes"][0]["pass"] == "rtn");
  CHECK(a["passes"][0]["options"] == b["passes"][0]["options"]);
  CHECK(a["models"]["compressed"]["bytes"] == b["models"]["compressed"]["bytes"]);
  CHECK(a["passes"][0]["figures"]["layers"] == b["passes"][0]["figures"]["layers"]);  // every tensor's errors

  const CommandResult help = runSlmc("quantize --help");
  REQUIRE(help.exit_code == 0);
  CHECK(help.out.find("--method") != std::string::npos);
  CHECK(help.out.find("gptq: GPTQ weight quantization") != std::string::npos);
  CHECK(help.out.find("gptq: damping added") != std::string::npos);  // an option only gptq takes says so
  CHECK(help.out.find("(default 4; smoothquant: default 8)") != std::string::npos);

  const CommandResult listing = runSlmc("passes");
  REQUIRE(listing.exit_code == 0);
  for (const char* pass : {"\nrtn: ", "\ngptq: ", "\nawq: ", "\nsmoothquant: ", "\nmagnitude: ", "\nwanda: ",
                           "\nsparsegpt: ", "\nquantize: ", "\nprune: "})
    CHECK(listing.out.find(pass) != std::string::npos);
  CHECK(listing.out.find("method=<string>  the pass to run: rtn (default), gptq, awq, smoothquant") != std::string::npos);
}
