// slmc verify model.slmc [--json out.json]: checks a pack's structure (header, block table,
// metadata against the block sizes), recomputes every block's CRC-32C and loads it as a model
// (tensors match the config, values finite, recorded N:M patterns hold). Prints a summary ending in "checksums OK"; on the
// first problem prints one line naming the block or tensor and exits 1 (no JSON written).
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "lib/format/pack_reader.h"
#include "lib/model/model_config.h"
#include "lib/support/atomic_file.h"
#include "lib/support/output_path.h"

namespace slmc {

namespace {
struct VerifyOptions {
  std::string pack;
  std::string json_out;
};

std::string tensorKind(const PackTensor& t) {
  return t.quantized() ? schemeName(t.scheme) : weightTypeTraits(t.storage).storage_name;
}

void runVerify(const VerifyOptions& o) {
  // Checked before any work: a bad --json path fails in the first second, not after the run.
  if (!o.json_out.empty()) checkOutputFile(o.json_out, o.pack, false, "--json");
  const PackFile pack = PackFile::open(o.pack);
  pack.verify();
  // Loading also checks the recorded sparsity patterns against the (dequantized) weights.
  const Model model = packToModel(pack);
  validateModel(model);
  std::map<std::string, int> sparsity;  // "2:4 (sparsegpt)" → tensors
  for (const auto& [name, s] : model.sparsity) ++sparsity[s.pattern() + " (" + s.method + ")"];
  std::string sparsity_text;
  for (const auto& [kind, n] : sparsity)
    sparsity_text += (sparsity_text.empty() ? "" : ", ") + std::to_string(n) + " tensors " + kind;

  std::map<std::string, int> kinds;
  for (const PackTensor& t : pack.tensors()) ++kinds[tensorKind(t)];
  std::string kinds_text;
  for (const auto& [kind, n] : kinds) kinds_text += (kinds_text.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
  std::string files_text;
  for (const PackEmbeddedFile& f : pack.tokenizerFiles())
    files_text += (files_text.empty() ? "" : ", ") + f.name + " (" + std::to_string(f.bytes.size()) + " bytes)";
  const ModelConfig& c = pack.config();
  const PackProvenance& p = pack.provenance();

  {
    std::printf("pack         %s  (%llu bytes, format version %u)\n", o.pack.c_str(),
                static_cast<unsigned long long>(pack.fileBytes()), pack.version());
    std::printf("model        %s (%s)  layers %lld  hidden %lld  heads %lld/%lld  vocab %lld\n", c.architecture.c_str(),
                c.model_type.c_str(), static_cast<long long>(c.num_layers), static_cast<long long>(c.hidden_size),
                static_cast<long long>(c.num_heads), static_cast<long long>(c.num_kv_heads),
                static_cast<long long>(c.vocab_size));
    std::printf("tensors      %zu: %s\n", pack.tensors().size(), kinds_text.c_str());
    std::printf("blocks       %zu, each %llu-byte aligned\n", pack.blocks().size(),
                static_cast<unsigned long long>(pack::kAlignment));
    std::printf("activations  %zu quantized linear inputs\n", pack.activationQuant().size());
    std::printf("sparsity     %s\n", sparsity_text.empty() ? "dense" : sparsity_text.c_str());
    std::printf("tokenizer    %s\n", files_text.empty() ? "none" : files_text.c_str());
    std::printf("provenance   source %s  sha256 %s  recipe %s  slmc %s\n", p.source.c_str(),
                p.source_sha256.empty() ? "-" : p.source_sha256.c_str(), p.recipe.empty() ? "-" : p.recipe.c_str(),
                p.slmc_version.c_str());
    std::printf("checksums OK (%zu blocks, CRC-32C)\n", pack.blocks().size());
  }
  if (!o.json_out.empty()) {
    nlohmann::json files = nlohmann::json::array();
    for (const PackEmbeddedFile& f : pack.tokenizerFiles()) files.push_back({{"name", f.name}, {"bytes", f.bytes.size()}});
    const nlohmann::json j = {{"schema_version", 1},
                              {"pack", o.pack},
                              {"bytes", pack.fileBytes()},
                              {"format_version", pack.version()},
                              {"architecture", c.architecture},
                              {"tensors", pack.tensors().size()},
                              {"tensor_kinds", kinds},
                              {"blocks", pack.blocks().size()},
                              {"activation_quant", pack.activationQuant().size()},
                              {"sparsity", sparsity},
                              {"tokenizer", files},
                              {"provenance",
                               {{"source", p.source},
                                {"source_sha256", p.source_sha256},
                                {"recipe", p.recipe},
                                {"slmc_version", p.slmc_version}}},
                              {"checksum", pack::kChecksumName},
                              {"checksums_ok", true}};
    writeFileAtomically(o.json_out, j.dump(2) + "\n");
  }
}
}  // namespace

void setupVerify(CLI::App& app) {
  auto opts = std::make_shared<VerifyOptions>();
  CLI::App* sub = app.add_subcommand("verify", "Check a .slmc pack's structure and every block checksum");
  sub->add_option("pack", opts->pack, ".slmc pack written by slmc export")->required();
  sub->add_option("--json", opts->json_out, "also write the summary as JSON to this file");
  sub->callback([opts] { runVerify(*opts); });
}

}  // namespace slmc
