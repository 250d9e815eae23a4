#include <doctest/doctest.h>

#include "lib/model/model_size.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/report/report.h"
#include "lib/support/version.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// 1 layer, hidden 32, intermediate 48, 4 heads of 8 (2 kv heads), vocab 64.
// Parameters: embed 64*32 = 2048; per layer norms 2*32, q 32*32, k 16*32, v 16*32, o 32*32,
// gate/up 48*32 each, down 32*48; final norm 32; lm_head 64*32 (untied) = 11872.
ModelConfig tinyLlama(bool tied) {
  TinyShape shape;
  shape.tied = tied;
  return tinyLlamaConfig(shape);
}

void quantize(Model& m, const std::string& name, const QuantScheme& scheme) {
  const Tensor& t = m.tensors.at(name);
  const std::vector<float> w = t.toFloats();
  m.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), scheme));
}

PassRecord record(const std::string& name, const std::string& invocation, double seconds, const std::string& summary) {
  PassRecord r;
  r.name = name;
  r.invocation = invocation;
  r.options = {{"bits", 4}};
  r.seconds = seconds;
  r.peak_rss_bytes = 300 << 20;
  r.rss_growth_bytes = -(1 << 20);
  r.result.summary = summary;
  return r;
}

}  // namespace

TEST_CASE("model size: float tensors at their dtype, quantized ones at their packed bytes") {
  Model m = randomModel(tinyLlama(false), 1);
  const ModelSize f = modelSize(m);
  CHECK(f.parameters == 11872);
  CHECK(f.bytes == 4 * 11872);  // F32
  CHECK(f.bits_per_weight == 32.0);
  CHECK(f.quantized_parameters == 0);
  CHECK(f.quantized_bits_per_weight == 0.0);

  // q_proj [32, 32] at int4, groups of 16, symmetric: 32 rows x 16 bytes of codes
  // + 32 x 2 groups x 2 bytes of F16 scales = 512 + 128 = 640 bytes (no zeros when symmetric).
  quantize(m, names::layer(0, "self_attn.q_proj.weight"), {4, 16, true});
  const ModelSize q = modelSize(m);
  CHECK(q.parameters == 11872);
  CHECK(q.bytes == 4 * 11872 - 4 * 1024 + 640);
  CHECK(q.quantized_parameters == 1024);
  CHECK(q.quantized_bits_per_weight == 8.0 * 640 / 1024);  // 5 bits: 4 + 16 scale bits per 16 weights
  CHECK(q.bits_per_weight == doctest::Approx(8.0 * (4 * 11872 - 4 * 1024 + 640) / 11872));

  // down_proj [32, 48] at int3 per channel, asymmetric: codes 32 x ceil(48*3/8) = 32 x 18 = 576,
  // scales 32 x 1 x 2 = 64, zeros 32 x ceil(1*3/8) = 32: 672 bytes.
  quantize(m, names::layer(0, "mlp.down_proj.weight"), {3, 0, false});
  const ModelSize q2 = modelSize(m);
  CHECK(q2.bytes == 4 * 11872 - 4 * 1024 - 4 * 1536 + 640 + 672);
  CHECK(q2.quantized_parameters == 1024 + 1536);
  CHECK(q2.quantized_bits_per_weight == doctest::Approx(8.0 * (640 + 672) / (1024 + 1536)));

  // Tied: the output head is the embedding, counted once.
  const ModelSize tied = modelSize(randomModel(tinyLlama(true), 1));
  CHECK(tied.parameters == 11872 - 2048);
  CHECK(tied.bytes == 4 * (11872 - 2048));

  const nlohmann::json j = modelSizeJson(q);
  CHECK(j["parameters"] == 11872);
  CHECK(j["bytes"] == q.bytes);
  CHECK(j["quantized_parameters"] == 1024);
  CHECK(j["quantized_bits_per_weight"] == 5.0);
}

TEST_CASE("report: JSON holds every section with a stable schema") {
  Report empty;
  const nlohmann::json& e = empty.toJson();
  for (const char* key : {"schema_version", "slmc_version", "command", "source_model", "pipeline", "passes", "models",
                          "calibration", "evaluation", "warnings"})
    CHECK_MESSAGE(e.contains(key), key);
  CHECK(e["schema_version"] == 1);
  CHECK(e["slmc_version"] == kVersion);

  Model m = randomModel(tinyLlama(false), 1);
  const ModelSize original = modelSize(m);
  quantize(m, names::layer(0, "self_attn.q_proj.weight"), {4, 16, true});
  const ModelSize compressed = modelSize(m);

  Report r;
  r.setCommand("compress");
  r.setSourceModel("models/tiny");
  r.setPipeline("quantize(bits=4),export");
  PassRecord q = record("quantize", "quantize(bits=4)", 1.5, "quantized 1 linear");
  q.result.figures = {{"tensors", 1}, {"mean_error", 0.0123}};
  q.result.warnings = {"layer 0: 3 outliers"};
  r.setPasses({q, record("export", "export", 0.25, "wrote tiny.slmc")});
  r.setOriginalModel(original);
  r.setCompressedModel(compressed);
  r.setEvaluation({{"perplexity", {{"original", 10.0}, {"compressed", 10.5}}},
                   {"top1_agreement", 0.9321},
                   {"mean_kl", 0.0042},
                   {"tokens_scored", 4096}});
  r.addWarning("tokenizer not found: copied none");
  r.setCalibration({{"source", "wiki.txt"}, {"samples", 4}, {"seq_len", 8}});

  const nlohmann::json& j = r.toJson();
  CHECK(j["command"] == "compress");
  CHECK(j["source_model"] == "models/tiny");
  CHECK(j["pipeline"] == "quantize(bits=4),export");
  REQUIRE(j["passes"].size() == 2);
  const nlohmann::json& p = j["passes"][0];
  CHECK(p["name"] == "quantize");
  CHECK(p["invocation"] == "quantize(bits=4)");
  CHECK(p["options"] == nlohmann::json{{"bits", 4}});
  CHECK(p["seconds"] == 1.5);
  CHECK(p["peak_rss_bytes"] == 300 << 20);
  CHECK(p["rss_growth_bytes"] == -(1 << 20));
  CHECK(p["summary"] == "quantized 1 linear");
  CHECK(p["figures"]["tensors"] == 1);
  CHECK(p["warnings"] == nlohmann::json{"layer 0: 3 outliers"});
  CHECK(j["models"]["original"] == modelSizeJson(original));
  CHECK(j["models"]["compressed"]["bytes"] == compressed.bytes);
  CHECK(j["evaluation"]["top1_agreement"] == 0.9321);
  CHECK(j["warnings"] == nlohmann::json{"tokenizer not found: copied none"});
  CHECK(j["calibration"]["samples"] == 4);
}

TEST_CASE("report: Markdown summarises passes, sizes, evaluation and warnings") {
  ModelSize original{1000, 4000, 32.0, 0, 0.0};
  ModelSize compressed{1000, 1000, 8.0, 800, 5.0};
  Report r;
  r.setCommand("compress");
  r.setSourceModel("models/tiny");
  r.setPipeline("quantize(bits=4),export");
  PassRecord q = record("quantize", "quantize(bits=4)", 1.5, "quantized | 1 linear");
  q.result.figures = {{"tensors", 14}, {"mean_error", 0.0123}};
  q.result.warnings = {"layer 0: 3 outliers"};
  r.setPasses({q, record("export", "export", 0.25, "wrote tiny.slmc")});
  r.setOriginalModel(original);
  r.setCompressedModel(compressed);
  r.setEvaluation({{"perplexity", {{"original", 10.0}, {"compressed", 10.5}}},
                   {"top1_agreement", 0.9321},
                   {"mean_kl", 0.0042},
                   {"mean_nll", {{"original", 2.302585}, {"compressed", 2.351375}}},
                   {"tokens_scored", 4096}});
  r.setCalibration({{"source", "wiki.txt"}, {"samples", 4}});
  r.addWarning("tokenizer not found");
  const std::string md = r.toMarkdown();
  CAPTURE(md);
  const auto has = [&](const std::string& s) { CHECK_MESSAGE(md.find(s) != std::string::npos, "missing: " << s); };
  CHECK(md.rfind("# slmc compress report\n", 0) == 0);
  has("- source model: `models/tiny`");
  has("- pipeline: `quantize(bits=4),export`");
  has("| # | pass | invocation | time (s) | peak RSS (MiB) | RSS growth (MiB) | summary |");
  has("| 1 | quantize | `quantize(bits=4)` | 1.50 | 300.0 | -1.0 | quantized \\| 1 linear |");
  has("| 2 | export | `export` | 0.25 | 300.0 | -1.0 | wrote tiny.slmc |");
  has("### 1. quantize\n\n| figure | value |\n|---|---:|\n| mean_error | 0.0123 |\n| tensors | 14 |\n");
  CHECK(md.find("### 2. export") == std::string::npos);  // no figures, no table
  has("| bytes | 4,000 (0.0 MiB) | 1,000 (0.0 MiB) | 4.00x smaller |");
  has("| bits per weight | 32.00 | 8.00 | |");
  has("| bits per quantized weight | – | 5.00 | |");
  has("| perplexity | 10.0000 | 10.5000 | +5.00% |");
  has("| top-1 agreement | | 93.21% | |");
  has("| mean KL to original (nats) | | 0.004200 | |");
  has("| mean_nll | 2.3026 | 2.3514 |  |");
  has("- tokens_scored: 4096");
  CHECK(md.find("- top1_agreement") == std::string::npos);  // tabulated, not listed again
  has("## Calibration\n\n- samples: 4\n- source: wiki.txt\n");
  has("## Warnings\n\n- tokenizer not found\n- quantize: layer 0: 3 outliers\n");

  // Sections without data are left out.
  Report bare;
  const std::string bare_md = bare.toMarkdown();
  CHECK(bare_md.rfind("# slmc report\n", 0) == 0);
  CHECK(bare_md.find("## Passes") == std::string::npos);
  CHECK(bare_md.find("## Model size") == std::string::npos);
  CHECK(bare_md.find("## Evaluation") == std::string::npos);
  CHECK(bare_md.find("## Warnings") == std::string::npos);
  CHECK(bare_md.find("## Calibration") == std::string::npos);
  // Only the original size known: the compressed column shows a dash and no ratio.
  bare.setOriginalModel(original);
  CHECK(bare.toMarkdown().find("| bytes | 4,000 (0.0 MiB) | – |  |") != std::string::npos);
}

TEST_CASE("report: write puts the JSON and the Markdown side by side, reproducibly") {
  ScratchDir dir("report");
  Report r;
  r.setCommand("compress");
  r.setPasses({record("quantize", "quantize(bits=4)", 2.0, "done")});
  r.write(dir / "report.json");
  CHECK(readJson(dir / "report.json") == r.toJson());
  CHECK(readFile(dir / "report.md") == r.toMarkdown());
  CHECK(dir.entries() == 2);  // no temp files left behind
  const std::string first = readFile(dir / "report.json");
  r.write(dir / "report.json");
  CHECK(readFile(dir / "report.json") == first);  // no timestamps: same report, same bytes
  r.write(dir / "run.out");
  CHECK(std::filesystem::exists(dir / "run.out.md"));
  CHECK(markdownPathFor("a/b.json") == "a/b.md");
  checkError(errorOf([&] { r.write(dir / "missing/report.json"); }), "cannot write");
  CHECK(!std::filesystem::exists(dir / "missing"));
}
