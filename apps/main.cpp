// slmc-full: every slmc command (LibTorch, which the reference forward, calibration and
// distillation need, is linked here). Users run `slmc`, the front binary (front_main.cpp), which
// runs `run` and `bench` itself and hands every other command to this one. main only wires
// subcommands (cli_main.h maps failures to exit codes).
#include "apps/cli_main.h"

int main(int argc, char** argv) {
  return slmc::runCli(argc, argv, [](CLI::App& app, slmc::CommonOptions& common) {
    slmc::setupInspect(app);
    slmc::setupEval(app, common);
    slmc::setupExport(app, common);
    slmc::setupDataset(app);
    slmc::setupQuantize(app, common);
    slmc::setupPrune(app, common);
    slmc::setupCompress(app, common);
    slmc::setupDistill(app, common);
    slmc::setupPasses(app);
    slmc::setupVerify(app);
    slmc::setupRun(app, common);
    slmc::setupValidate(app, common);
    slmc::setupBench(app, common);
    slmc::setupTokenize(app);
    slmc::setupReport(app);
  });
}
