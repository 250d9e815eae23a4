// slmc export MODEL --format hf -o DIR: write a model as a Hugging Face directory
// (config.json + model.safetensors) that transformers loads as is.
#include <cstdio>

#include "apps/commands.h"
#include "lib/checkpoint.h"
#include "lib/hf_checkpoint.h"

namespace slmc {

namespace {
struct ExportOptions {
  std::string model;
  std::string format = "hf";
  std::string output;
};

void runExport(const ExportOptions& o, const CommonOptions& common) {
  const Model model = loadModel(o.model);
  saveHfDirectory(model, o.output);
  if (!common.quiet) std::printf("wrote %s (Hugging Face: config.json + model.safetensors)\n", o.output.c_str());
}
}  // namespace

void setupExport(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a model in another checkpoint format");
  sub->add_option("model", opts->model, "Hugging Face model directory or llama2.c .bin")->required();
  sub->add_option("--format", opts->format, "output format")->check(CLI::IsMember({"hf"}));
  sub->add_option("-o,--output", opts->output, "output directory")->required();
  sub->callback([opts, &common] { runExport(*opts, common); });
}

}  // namespace slmc
