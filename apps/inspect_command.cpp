// slmc inspect MODEL [--tensors] [--json]
#include <iostream>

#include "apps/commands.h"
#include <nlohmann/json.hpp>

#include "lib/format/checkpoint.h"
#include "lib/format/compressed_tensors.h"
#include "lib/format/gptq_checkpoint.h"
#include "lib/format/gguf/gguf_export.h"
#include "lib/model/model_summary.h"

namespace slmc {

namespace {
struct InspectOptions {
  std::string model;
  bool tensors = false;
  bool json = false;
};

void runInspect(const InspectOptions& o) {
  const Model model = loadModel(o.model);
  const ModelSummary summary = summarize(model);
  // The formats `slmc export` writes this model to (hf and pack hold every model slmc reads).
  const gguf::GgufExportability gguf = gguf::ggufExportability(model);
  // compressed-tensors copies codes and scales, so what it can hold it holds exactly.
  const CompressedTensorsExportability ct = compressedTensorsExportability(model);
  const GptqExportability gptq = gptqExportability(model);  // exact as well
  if (o.json) {
    nlohmann::json j = nlohmann::json::parse(summaryJson(model, summary, o.tensors));
    j["exports"] = {{"hf", true}, {"pack", true},
                    {"gguf", {{"possible", gguf.possible}, {"exact", gguf.exact}, {"detail", gguf.detail}}},
                    {"compressed-tensors", {{"possible", ct.possible}, {"exact", ct.possible}, {"detail", ct.detail}}},
                    {"gptq", {{"possible", gptq.possible}, {"exact", gptq.possible}, {"detail", gptq.detail}}}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << summaryText(model, summary, o.tensors)
              << "exports      hf, pack, " << (gguf.possible ? "gguf (" : "not gguf (") << gguf.detail << "), "
              << (ct.possible ? "compressed-tensors (" : "not compressed-tensors (") << ct.detail << "), "
              << (gptq.possible ? "gptq (" : "not gptq (") << gptq.detail << ")\n";
  }
}
}  // namespace

void setupInspect(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's architecture, parameter counts and size");
  sub->add_option("model", opts->model, "Hugging Face model directory, GGUF or llama2.c .bin")->required();
  sub->add_flag("--tensors", opts->tensors, "list every tensor with dtype and shape");
  sub->add_flag("--json", opts->json, "print JSON instead of text");
  sub->callback([opts] { runInspect(*opts); });
}

}  // namespace slmc
