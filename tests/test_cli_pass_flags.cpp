// The flags of `slmc quantize`, `slmc prune` and `slmc distill` are generated from the passes'
// option declarations (apps/pass_flags.h): every option has a flag, its help shows the declared
// default, and values reach the pass as the user wrote them (the option's codec parses them).
#include <doctest/doctest.h>

#include "passes/distill/distill_pass.h"
#include "passes/prune/magnitude_pass.h"
#include "passes/prune/sparsegpt_pass.h"
#include "passes/prune/wanda_pass.h"
#include "passes/quantize/awq_pass.h"
#include "passes/quantize/gptq_pass.h"
#include "passes/quantize/rtn_pass.h"
#include "passes/quantize/smoothquant_pass.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
// The flag an option is expected under: its name with dashes; a bool's switch away from its
// default; the two spellings the quantize command keeps from before the flags were generated.
std::string expectedFlag(const OptionBase& o) {
  if (o.name() == "symmetric") return "--asymmetric";
  if (o.name() == "schemes") return "--scheme";
  std::string flag = o.name();
  for (char& c : flag)
    if (c == '_') c = '-';
  if (std::string(o.typeName()) == "bool" && o.defaultText() == "true") return "--no-" + flag;
  return "--" + flag;
}

void checkEveryOptionHasAFlag(const std::string& command, const Pass& pass, const std::string& skipped = "") {
  const CommandResult help = runSlmc(command + " --help");
  REQUIRE(help.exit_code == 0);
  for (const OptionBase* o : pass.options()) {
    if (o->name() == skipped) continue;
    INFO(command << ": option " << o->name());
    const std::string flag = expectedFlag(*o);
    const size_t at = help.out.find("  " + flag + " ");
    REQUIRE(at != std::string::npos);
    if (std::string(o->typeName()) != "bool") {
      // The family's flag shows each member's default ("default 4; smoothquant: default 8").
      const std::string line = help.out.substr(at, help.out.find("\n  -", at + 1) - at);
      CHECK(line.find("default " + (o->defaultText().empty() ? std::string("\"\"") : o->defaultText())) !=
            std::string::npos);
    }
  }
}
}  // namespace

TEST_CASE("cli pass flags: every option of quantize, prune and distill has a flag with its declared default") {
  // `slmc quantize` and `slmc prune` take the options of every pass of their family.
  checkEveryOptionHasAFlag("quantize", RtnPass());
  checkEveryOptionHasAFlag("quantize", GptqPass());
  checkEveryOptionHasAFlag("quantize", AwqPass());
  checkEveryOptionHasAFlag("quantize", SmoothQuantPass());
  checkEveryOptionHasAFlag("prune", MagnitudePass());
  checkEveryOptionHasAFlag("prune", WandaPass());
  checkEveryOptionHasAFlag("prune", SparseGptPass());
  checkEveryOptionHasAFlag("distill", DistillPass(), "teacher");  // distill's --teacher is the command's own
}

TEST_CASE("cli pass flags: options that had no flag reach the pass with the value written") {
  ScratchDir dir("cli-pass-flags");
  CommandResult r = runSlmc("-q quantize " + stories260K() +
                            " --bits 4 --group-size 32 --observer percentile --percentile 99.5 --no-scale-search"
                            " --keep lm_head,embed -o " + dir / "q");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  nlohmann::json report = readJson(dir / "q/slmc_report.json");
  CHECK(report["pipeline"] ==
        "quantize(method=rtn,bits=4,group_size=32,keep={lm_head,embed},scale_search=false,observer=percentile,"
        "percentile=99.5)");
  const nlohmann::json& options = report["passes"][0]["options"];
  CHECK(options["percentile"].get<double>() == 99.5);
  CHECK(options["scale_search"] == false);
  CHECK(options["observer"] == "percentile");

  r = runSlmc("-q prune " + stories260K() + " --method magnitude --layer-sparsity 0.1,0.2,0.3,0.4,0.5 -o " + dir / "p");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  report = readJson(dir / "p/slmc_report.json");
  CHECK(report["pipeline"] == "prune(method=magnitude,layer_sparsity={0.1,0.2,0.3,0.4,0.5})");
  CHECK(report["passes"][0]["options"]["layer_sparsity"].size() == 5);
}

TEST_CASE("cli pass flags: a value the option rejects is its own one-line error, a misspelt word a usage error") {
  ScratchDir dir("cli-pass-flags-bad");
  const std::string out = " -o " + dir / "out";
  expectError(runSlmc("-q quantize " + stories260K() + " --percentile 1e999" + out),
              "option 'percentile' of pass 'quantize'");
  expectError(runSlmc("-q quantize " + stories260K() + " --method gptq --block-size many" + out),
              "option 'block_size' of pass 'quantize': 'many' is not an integer");
  CHECK(runSlmc("-q quantize " + stories260K() + " --observer median" + out).exit_code == 2);
  CHECK(runSlmc("-q prune " + stories260K() + " --method magnitude --sparsity 0.5 --nm 2:4" + out).exit_code == 2);
  CHECK(dir.entries() == 0);
}
