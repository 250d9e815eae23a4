// Hugging Face export as an AutoGPTQ checkpoint (lib/format/gptq_checkpoint.h): the export read
// back with slmc's own JSON and safetensors readers and unpacked here, independently of the
// writer, as AutoGPTQ's QuantLinear does (codes down the input dimension, zeros stored minus one,
// float16 scales, g_idx), gives slmc's in-memory dequantized weights bit for bit; what the layout
// cannot hold is refused with one line naming the tensor, and nothing is written.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/format/checkpoint.h"
#include "lib/format/gptq_checkpoint.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/safetensors.h"
#include "lib/model/dtype.h"
#include "lib/model/model_config.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/support/error.h"
#include "tests/hf_quantized_export_support.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
using nlohmann::json;

namespace {

// A Llama whose every dimension (64, 128, and 32 for k/v) GPTQ's int32 words divide at 2, 4 and 8 bits.
ModelConfig tinyLlama(bool tied) {
  return parseHfConfig(std::string(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":4,
      "vocab_size":96,"max_position_embeddings":64,"tie_word_embeddings":)") + (tied ? "true" : "false") + "}",
                       "tiny-llama");
}

// The [rows, cols] weight AutoGPTQ dequantizes from `<base>.*`: scale[g] * (q - (qzero + 1)) with
// g = g_idx[c], in float32; checks dtypes and shapes on the way.
std::vector<float> dequantizedFromFile(const std::map<std::string, Tensor>& file, const std::string& base, int64_t rows,
                                       int64_t cols, int bits, int64_t group_size) {
  const int64_t k = 32 / bits, groups = group_size > 0 ? cols / group_size : 1;
  const Tensor& qweight_t = file.at(base + ".qweight");
  REQUIRE(qweight_t.dtype() == DType::I32);
  REQUIRE(qweight_t.shape() == Shape{cols / k, rows});
  const Tensor& qzeros_t = file.at(base + ".qzeros");
  REQUIRE(qzeros_t.dtype() == DType::I32);
  REQUIRE(qzeros_t.shape() == Shape{groups, rows / k});
  const Tensor& scales_t = file.at(base + ".scales");
  REQUIRE(scales_t.dtype() == DType::F16);
  REQUIRE(scales_t.shape() == Shape{groups, rows});
  const Tensor& g_idx_t = file.at(base + ".g_idx");
  REQUIRE(g_idx_t.dtype() == DType::I32);
  REQUIRE(g_idx_t.shape() == Shape{cols});
  const std::vector<int32_t> qweight = values<int32_t>(qweight_t), qzeros = values<int32_t>(qzeros_t);
  const std::vector<uint16_t> scales = values<uint16_t>(scales_t);
  const std::vector<int32_t> g_idx = values<int32_t>(g_idx_t);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (int64_t c = 0; c < cols; ++c) {
    const int64_t g = g_idx[static_cast<size_t>(c)];
    REQUIRE(g == (group_size > 0 ? c / group_size : 0));
    for (int64_t r = 0; r < rows; ++r) {
      const int q = unpackedInt32(qweight[static_cast<size_t>((c / k) * rows + r)], c % k, bits);
      const int zero = unpackedInt32(qzeros[static_cast<size_t>(g * (rows / k) + r / k)], r % k, bits) + 1;
      const float scale = halfToFloat(scales[static_cast<size_t>(g * rows + r)]);
      w[static_cast<size_t>(r * cols + c)] = static_cast<float>(q - zero) * scale;
    }
  }
  return w;
}

// Exports `m` as GPTQ and checks config.json and every tensor against the model.
void checkExport(const Model& m, const std::string& dir) {
  saveHfDirectory(m, dir, HfQuantFormat::Gptq);
  const json qc = readJson(dir + "/config.json").at("quantization_config");
  const QuantScheme& scheme = m.quantized.begin()->second->scheme;
  CHECK(qc.at("quant_method") == "gptq");
  CHECK(qc.at("checkpoint_format") == "gptq");
  CHECK(qc.at("bits") == scheme.bits());
  CHECK(qc.at("group_size") == (scheme.group_size > 0 ? scheme.group_size : -1));
  CHECK(qc.at("sym") == scheme.symmetric);
  CHECK(qc.at("desc_act") == false);
  CHECK(qc.at("lm_head") == false);
  const std::map<std::string, Tensor> file = readTensors(dir + "/model.safetensors");
  for (const auto& [name, q] : m.quantized) {
    CAPTURE(name);
    CHECK(file.count(name) == 0);  // the float weight is replaced by its packed form
    const int64_t group_size = qc.at("group_size").get<int64_t>();
    const std::vector<float> from_file = dequantizedFromFile(file, moduleOf(name), q->rows, q->cols,
                                                             qc.at("bits").get<int>(), group_size > 0 ? group_size : 0);
    CHECK(sameBits(from_file, m.tensors.at(name).toFloats()));
  }
  for (const auto& [name, t] : m.tensors) {
    if (m.quantized.count(name)) continue;
    CAPTURE(name);
    REQUIRE(file.count(name) == 1);
    CHECK(file.at(name).dtype() == t.dtype());
    CHECK(std::memcmp(file.at(name).bytes(), t.bytes(), t.nbytes()) == 0);
  }
  CHECK(file.size() == m.tensors.size() + 3 * m.quantized.size());  // qweight, qzeros, scales, g_idx for each weight

  // slmc reads the checkpoint back to the same model: codes, scales, zeros and float tensors.
  const Model back = loadModel(dir);
  REQUIRE(back.quantized.size() == m.quantized.size());
  for (const auto& [name, q] : m.quantized) {
    CAPTURE(name);
    REQUIRE(back.quantized.count(name) == 1);
    const QuantizedTensor& b = *back.quantized.at(name);
    CHECK(b.scheme == q->scheme);
    CHECK(b.codes == q->codes);
    CHECK(b.scales == q->scales);
    CHECK(b.zeros == q->zeros);
  }
  REQUIRE(back.tensors.size() == m.tensors.size());
  for (const auto& [name, t] : m.tensors) {
    CAPTURE(name);
    CHECK(sameBits(back.tensors.at(name).toFloats(), t.toFloats()));
  }
}

void writeText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Rewrites `dir`'s model.safetensors with `edit` applied to its tensor list.
template <typename F>
void editCheckpoint(const std::string& dir, F&& edit) {
  std::vector<std::pair<std::string, Tensor>> tensors = readSafetensors(dir + "/model.safetensors").tensors;
  edit(tensors);
  writeSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
}

}  // namespace

TEST_CASE("GPTQ export: int4 g32 symmetric dequantizes to slmc's weights bit for bit") {
  const Model m = quantizedBlocks(randomModel(tinyLlama(true), 5), QuantScheme{4, 32, true});
  REQUIRE(m.quantized.size() == 14);
  ScratchDir dir("gptq-int4-g32");
  checkExport(m, dir / "out");
  const std::map<std::string, Tensor> file = readTensors(dir / "out/model.safetensors");
  // down_proj [64, 128]: 128 / 8 = 16 words of codes down each input column, 4 groups of zeros.
  CHECK(file.at("model.layers.0.mlp.down_proj.qweight").shape() == Shape{16, 64});
  CHECK(file.at("model.layers.0.mlp.down_proj.qzeros").shape() == Shape{4, 8});
  CHECK(gptqExportability(m).detail == "14 int4-g32-sym, exact");
  // A symmetric 4-bit zero is 8, stored as 7 in every nibble.
  CHECK(static_cast<uint32_t>(values<int32_t>(file.at("model.layers.0.mlp.down_proj.qzeros"))[0]) == 0x77777777u);
}

TEST_CASE("GPTQ export: int2 g32 asymmetric and int8 per-channel, with an untied float lm_head, bit-exact") {
  ScratchDir dir("gptq-widths");
  const Model asym = quantizedBlocks(randomModel(tinyLlama(false), 6), QuantScheme{2, 32, false});
  checkExport(asym, dir / "int2");
  CHECK(readTensors(dir / "int2/model.safetensors").count("lm_head.weight") == 1);
  const Model channel = quantizedBlocks(randomModel(tinyLlama(false), 7), QuantScheme{8, 0, true});
  checkExport(channel, dir / "int8");
  const std::map<std::string, Tensor> file = readTensors(dir / "int8/model.safetensors");
  CHECK(file.at("model.layers.1.self_attn.k_proj.scales").shape() == Shape{1, 32});  // one group per row
  CHECK(readJson(dir / "int8/config.json").at("quantization_config").at("group_size") == -1);
}

TEST_CASE("GPTQ export: what the layout cannot hold is refused, writing nothing") {
  ScratchDir dir("gptq-refused");
  const auto refused = [&](const Model& m, const std::string& expected) {
    checkRefusedExport(m, HfQuantFormat::Gptq, dir, expected, "--quant-format compressed-tensors or slmc");
    CHECK_FALSE(gptqExportability(m).possible);
  };
  const Model tiny = randomModel(tinyLlama(true), 8);
  refused(quantizedBlocks(tiny, QuantScheme{3, 32, true}),
          "'model.layers.0.self_attn.q_proj.weight' is int3-g32-sym, and GPTQ checkpoints hold 2-, 4- and 8-bit codes only");
  Model mixed = quantizedBlocks(tiny, QuantScheme{4, 32, true});
  const std::string down = names::layer(1, "mlp.down_proj.weight");
  const Tensor& d = tiny.tensors.at(down);
  mixed.setQuantized(down, quantizeRtn(d.toFloats().data(), d.dim(0), d.dim(1), QuantScheme{8, 32, true}));
  refused(mixed, "'model.layers.1.mlp.down_proj.weight' is int8-g32-sym and 'model.layers.0.self_attn.q_proj.weight' "
                 "int4-g32-sym, and a GPTQ checkpoint has one scheme for the whole model");
  // stories260K's MLP is 172 wide.
  refused(quantizedBlocks(stories260KModel(), QuantScheme{4, 0, true}),
          "'model.layers.0.mlp.gate_proj.weight' is [172, 64], and GPTQ packs 8 4-bit codes per int32 along both "
          "dimensions, so each must be a multiple of 8");

  Model one_float = quantizedBlocks(tiny, QuantScheme{4, 32, true});
  const std::string up = names::layer(1, "mlp.up_proj.weight");
  one_float.quantized.erase(up);
  one_float.tensors.set(up, tiny.tensors.at(up));
  refused(one_float, "'model.layers.1.mlp.up_proj.weight' is float, and a GPTQ checkpoint quantizes every Linear");

  Model embedding = quantizedBlocks(tiny, QuantScheme{4, 32, true});
  const Tensor& e = embedding.tensors.at(names::kEmbedTokens);
  embedding.setQuantized(names::kEmbedTokens, quantizeRtn(e.toFloats().data(), e.dim(0), e.dim(1), QuantScheme{4, 32, true}));
  refused(embedding, "'model.embed_tokens.weight' is quantized (int4-g32-sym), and GPTQ checkpoints quantize");

  // A group whose values are all positive has its asymmetric zero on code 0, which GPTQ stores as -1.
  Model positive = tiny;
  const std::string q_proj = names::layer(0, "self_attn.q_proj.weight");
  std::vector<float> w = positive.tensors.at(q_proj).toFloats();
  for (int c = 0; c < 32; ++c) w[static_cast<size_t>(c)] = 0.01f + 0.001f * static_cast<float>(c);
  positive.tensors.set(q_proj, Tensor::fromFloats(positive.tensors.at(q_proj).shape(), w));
  refused(quantizedBlocks(positive, QuantScheme{4, 32, false}), "has a group with zero point 0");

  Model w8a8 = quantizedBlocks(tiny, QuantScheme{8, 0, true});
  w8a8.activation_quant[names::layer(0, "mlp.up_proj.weight")] = ActivationQuant{8, true, 0};
  refused(w8a8, "weight-only");

  // A float model has nothing to convert: it is the plain float export.
  CHECK(gptqExportability(tiny).possible);
  saveHfDirectory(tiny, dir / "float", HfQuantFormat::Gptq);
  CHECK(readJson(dir / "float/config.json").count("quantization_config") == 0);
}

TEST_CASE("GPTQ export CLI: slmc export --quant-format gptq, its refusals, the export pass and slmc inspect") {
  ScratchDir dir("gptq-cli");
  saveHfDirectory(randomModel(tinyLlama(true), 9), dir / "tiny");
  REQUIRE(runSlmc("-q quantize " + dir / "tiny" + " --method rtn --bits 4 --group-size 32 -o " + dir / "q4").exit_code == 0);
  CommandResult r = runSlmc("export " + dir / "q4" + " --format hf --quant-format gptq -o " + dir / "gptq");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("GPTQ: 14 int4-g32-sym, exact") != std::string::npos);
  CHECK(readJson(dir / "gptq/config.json").at("quantization_config").at("quant_method") == "gptq");
  r = runSlmc("inspect " + dir / "q4");
  CHECK(r.out.find(", gptq (14 int4-g32-sym, exact)") != std::string::npos);

  // The same choice as an export pass option, in a pipeline.
  r = runSlmc("-q compress " + dir / "tiny" +
              " --passes \"quantize(method=rtn,bits=8,group_size=0),export(format=hf,quant_format=gptq)\" -o " + dir / "pipeline");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(readJson(dir / "pipeline/config.json").at("quantization_config").at("bits") == 8);

  // stories260K's 172-wide MLP does not fit GPTQ's 4-bit words: one line, nothing written; inspect says why.
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o " + dir / "stories").exit_code == 0);
  const size_t before = dir.entries();
  expectError(runSlmc("export " + dir / "stories" + " --quant-format gptq -o " + dir / "refused"),
              "'model.layers.0.mlp.gate_proj.weight' is [172, 64], and GPTQ packs 8 4-bit codes per int32 along both "
              "dimensions, so each must be a multiple of 8 (export it with --quant-format compressed-tensors or slmc, "
              "or as a pack (--format pack))");
  CHECK(dir.entries() == before);
  r = runSlmc("inspect --json " + dir / "stories");
  REQUIRE(r.exit_code == 0);
  const json gptq = json::parse(r.out).at("exports").at("gptq");
  CHECK(gptq.at("possible") == false);
  CHECK(gptq.at("detail").get<std::string>().find("multiple of 8") != std::string::npos);
}

TEST_CASE("GPTQ import: v2 zeros, act-order permutations, other widths and damaged tensors") {
  ScratchDir dir("gptq-import");
  const Model m = quantizedBlocks(randomModel(tinyLlama(true), 10), QuantScheme{4, 32, false});
  saveHfDirectory(m, dir / "v1", HfQuantFormat::Gptq);
  const std::string q_proj = "model.layers.0.self_attn.q_proj";

  // gptq_v2 stores each zero as it is: the same zeros plus one in every field read as v1 minus one.
  std::filesystem::copy(dir / "v1", dir / "v2");
  json config = readJson(dir / "v2/config.json");
  config["quantization_config"]["checkpoint_format"] = "gptq_v2";
  writeText(dir / "v2/config.json", config.dump());
  editCheckpoint(dir / "v2", [](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (name.size() < 7 || name.compare(name.size() - 7, 7, ".qzeros") != 0) continue;
      std::vector<int32_t> words = values<int32_t>(t);
      for (int32_t& w : words) w = static_cast<int32_t>(static_cast<uint32_t>(w) + 0x11111111u);  // no nibble is 15
      t = Tensor::copyOf(DType::I32, t.shape(), words.data());
    }
  });
  const Model v2 = loadModel(dir / "v2");
  CHECK(v2.quantized.at(q_proj + ".weight")->zeros == m.quantized.at(q_proj + ".weight")->zeros);

  const auto rejected = [&](const std::string& name, auto&& edit, const std::string& expected) {
    std::filesystem::copy(dir / "v1", dir / name);
    edit(dir / name);
    checkError(errorOf([&] { loadModel(dir / name); }), expected);
  };
  rejected("act-order", [&](const std::string& d) {
    editCheckpoint(d, [&](auto& tensors) {
      for (auto& [name, t] : tensors) {
        if (name != q_proj + ".g_idx") continue;
        std::vector<int32_t> g = values<int32_t>(t);
        std::swap(g[0], g[63]);
        t = Tensor::copyOf(DType::I32, t.shape(), g.data());
      }
    });
  }, "'model.layers.0.self_attn.q_proj.g_idx' puts column 0 in group 1, not 0: an act-order (desc_act) checkpoint");
  rejected("int3", [&](const std::string& d) {
    json c = readJson(d + "/config.json");
    c["quantization_config"]["bits"] = 3;
    writeText(d + "/config.json", c.dump());
  }, "GPTQ checkpoint has 3-bit codes; slmc reads 2-, 4- and 8-bit GPTQ checkpoints");
  rejected("no-zeros", [&](const std::string& d) {
    editCheckpoint(d, [&](auto& tensors) {
      tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                   [&](const auto& e) { return e.first == q_proj + ".qzeros"; }),
                    tensors.end());
    });
  }, "GPTQ checkpoint has no tensor 'model.layers.0.self_attn.q_proj.qzeros' (incomplete or corrupt file)");
  rejected("bad-scales", [&](const std::string& d) {
    editCheckpoint(d, [&](auto& tensors) {
      for (auto& [name, t] : tensors)
        if (name == q_proj + ".scales") t = Tensor::fromFloats(t.shape(), t.toFloats());
    });
  }, "tensor 'model.layers.0.self_attn.q_proj.scales' is F32 [2, 64], expected F16 [2, 64] (corrupt GPTQ checkpoint)");
}
