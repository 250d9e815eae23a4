// Hugging Face export in compressed-tensors' pack-quantized layout (lib/format/compressed_tensors.h):
// the export of a quantized stories260K read back with slmc's own JSON and safetensors readers and
// unpacked here, independently of the writer, as compressed-tensors' unpack_from_int32 and
// dequantize do, gives slmc's in-memory dequantized weights bit for bit; sparse models carry
// compressed-tensors' sparsity_config; schemes it cannot hold are refused with nothing written.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "lib/format/compressed_tensors.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/safetensors.h"
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

// stories260K with every layer linear quantized by RTN on `scheme`.
Model quantizedStories(const QuantScheme& scheme) { return quantizedBlocks(stories260KModel(), scheme); }

// unpack_from_int32: value i of a run of 32 / bits per int32 sits at bits [i * bits, (i + 1) * bits),
// stored unsigned, offset by 2^(bits-1) from the signed code.
int signedCode(int32_t word, int64_t index_in_word, int bits) {
  return unpackedInt32(word, index_in_word, bits) - (1 << (bits - 1));
}

// The weights compressed-tensors dequantizes from `<base>.weight_*`, as (q - zero_point) * scale
// (in float32, the dtype config.json declares); checks shapes and dtypes on the way.
std::vector<float> dequantizedFromFile(const std::map<std::string, Tensor>& file, const std::string& base, int bits,
                                       int64_t group_size, bool symmetric) {
  const Tensor& shape_t = file.at(base + ".weight_shape");
  REQUIRE(shape_t.dtype() == DType::I64);
  REQUIRE(shape_t.shape() == Shape{2});
  const std::vector<int64_t> shape = values<int64_t>(shape_t);
  const int64_t rows = shape[0], cols = shape[1], per_word = 32 / bits;
  const int64_t groups = group_size > 0 ? cols / group_size : 1, gs = group_size > 0 ? group_size : cols;
  const Tensor& packed_t = file.at(base + ".weight_packed");
  REQUIRE(packed_t.dtype() == DType::I32);
  REQUIRE(packed_t.shape() == Shape{rows, (cols + per_word - 1) / per_word});
  const Tensor& scale_t = file.at(base + ".weight_scale");
  REQUIRE(scale_t.dtype() == DType::F32);
  REQUIRE(scale_t.shape() == Shape{rows, groups});
  const std::vector<int32_t> packed = values<int32_t>(packed_t);
  const std::vector<float> scales = values<float>(scale_t);
  std::vector<int32_t> zp_words;
  if (symmetric) {
    CHECK(file.count(base + ".weight_zero_point") == 0);
  } else {
    const Tensor& zp_t = file.at(base + ".weight_zero_point");
    REQUIRE(zp_t.dtype() == DType::I32);
    REQUIRE(zp_t.shape() == Shape{(rows + per_word - 1) / per_word, groups});  // packed along the rows
    zp_words = values<int32_t>(zp_t);
  }
  const int64_t words = packed_t.dim(1);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t g = c / gs;
      const int q = signedCode(packed[static_cast<size_t>(r * words + c / per_word)], c % per_word, bits);
      const int zp = symmetric ? 0 : signedCode(zp_words[static_cast<size_t>((r / per_word) * groups + g)], r % per_word, bits);
      w[static_cast<size_t>(r * cols + c)] = static_cast<float>(q - zp) * scales[static_cast<size_t>(r * groups + g)];
    }
  return w;
}

// Exports `m` as compressed-tensors and checks config.json and every tensor against the model.
void checkExport(const Model& m, const std::string& dir) {
  saveHfDirectory(m, dir, HfQuantFormat::CompressedTensors);
  const json qc = readJson(dir + "/config.json").at("quantization_config");
  CHECK(qc.at("quant_method") == "compressed-tensors");
  CHECK(qc.at("format") == "pack-quantized");
  CHECK(qc.at("quantization_status") == "compressed");
  CHECK(qc.at("version") == kCompressedTensorsVersion);
  // stories260K ties its head to the embedding: transformers still builds lm_head, kept float.
  CHECK(qc.at("ignore") == json::array({"lm_head"}));

  // Every quantized linear is in exactly one group, whose weights args describe its scheme.
  const json& groups = qc.at("config_groups");
  std::map<std::string, json> args_of;
  for (const auto& [group, scheme] : groups.items()) {
    CHECK(scheme.at("input_activations").is_null());
    CHECK(scheme.at("output_activations").is_null());
    for (const json& target : scheme.at("targets")) {
      if (target == "Linear") {
        CHECK(groups.size() == 1);
        for (const auto& [name, q] : m.quantized) args_of[moduleOf(name)] = scheme.at("weights");
      } else {
        CHECK(args_of.emplace(target.get<std::string>(), scheme.at("weights")).second);
      }
    }
  }
  const std::map<std::string, Tensor> file = readTensors(dir + "/model.safetensors");
  for (const auto& [name, q] : m.quantized) {
    CAPTURE(name);
    const std::string base = moduleOf(name);
    REQUIRE(args_of.count(base) == 1);
    const json& args = args_of.at(base);
    CHECK(args.at("num_bits") == q->scheme.bits());
    CHECK(args.at("type") == "int");
    CHECK(args.at("symmetric") == q->scheme.symmetric);
    CHECK(args.at("dynamic") == false);
    CHECK(args.at("observer") == "minmax");
    if (q->scheme.group_size == 0) {
      CHECK(args.at("strategy") == "channel");
      CHECK(args.at("group_size").is_null());
    } else {
      CHECK(args.at("strategy") == "group");
      CHECK(args.at("group_size") == q->scheme.group_size);
    }
    CHECK(file.count(name) == 0);  // the float weight is replaced by its packed form
    const std::vector<float> from_file = dequantizedFromFile(
        file, base, args.at("num_bits").get<int>(), args.at("group_size").is_null() ? 0 : args.at("group_size").get<int64_t>(),
        args.at("symmetric").get<bool>());
    CHECK(sameBits(from_file, m.tensors.at(name).toFloats()));
  }
  // Float tensors are unchanged.
  for (const auto& [name, t] : m.tensors) {
    if (m.quantized.count(name)) continue;
    CAPTURE(name);
    REQUIRE(file.count(name) == 1);
    CHECK(file.at(name).dtype() == t.dtype());
    CHECK(file.at(name).shape() == t.shape());
    CHECK(std::memcmp(file.at(name).bytes(), t.bytes(), t.nbytes()) == 0);
  }
  // Nothing else: per quantized weight its packed codes, scales, shape and (asymmetric) zero points.
  size_t expected = m.tensors.size();
  for (const auto& [name, q] : m.quantized) expected += q->scheme.symmetric ? 2 : 3;
  CHECK(file.size() == expected);
}

}  // namespace

TEST_CASE("compressed-tensors export: int4 g32 symmetric dequantizes to slmc's weights bit for bit") {
  const Model m = quantizedStories(QuantScheme{4, 32, true});
  ScratchDir dir("ct-int4-g32");
  checkExport(m, dir / "out");
  // down_proj's 172 columns fell back to per-channel: two schemes, two groups naming their layers.
  const json groups = readJson(dir / "out/config.json").at("quantization_config").at("config_groups");
  REQUIRE(groups.size() == 2);
  CHECK(groups.at("group_0").at("weights").at("group_size") == 32);
  CHECK(groups.at("group_0").at("targets").at(0) == "model.layers.0.self_attn.q_proj");
  CHECK(groups.at("group_1").at("weights").at("strategy") == "channel");
  CHECK(groups.at("group_1").at("targets").size() == 5);
  // The scales are float32, the dtype config.json declares (and the loader gives weight_scale).
  CHECK(readJson(dir / "out/config.json").at("torch_dtype") == "float32");
}

TEST_CASE("compressed-tensors export: int4 g64 asymmetric packs zero points along the rows, bit-exact") {
  const Model m = quantizedStories(QuantScheme{4, 64, false});
  ScratchDir dir("ct-int4-g64-asym");
  checkExport(m, dir / "out");
  const std::map<std::string, Tensor> file = readTensors(dir / "out/model.safetensors");
  // q_proj is [64, 64]: 64 / 8 = 8 words of zero points per group column.
  CHECK(file.at("model.layers.0.self_attn.q_proj.weight_zero_point").shape() == Shape{8, 1});
}

TEST_CASE("compressed-tensors export: int8 per-channel is one group targeting Linear, bit-exact") {
  const Model m = quantizedStories(QuantScheme{8, 0, true});
  ScratchDir dir("ct-int8-channel");
  checkExport(m, dir / "out");
  const json groups = readJson(dir / "out/config.json").at("quantization_config").at("config_groups");
  REQUIRE(groups.size() == 1);
  CHECK(groups.at("group_0").at("targets") == json::array({"Linear"}));
  CHECK(groups.at("group_0").at("weights").at("num_bits") == 8);
  // 4 codes per int32.
  const std::map<std::string, Tensor> file = readTensors(dir / "out/model.safetensors");
  CHECK(file.at("model.layers.0.mlp.down_proj.weight_packed").shape() == Shape{64, 43});
}

TEST_CASE("compressed-tensors export: a sparse model carries compressed-tensors' sparsity_config") {
  Model m = stories260KModel();
  // 2:4 on every q_proj: the first two of every four columns set to zero.
  for (int64_t layer = 0; layer < m.config.num_layers; ++layer) {
    const std::string name = names::layer(layer, "self_attn.q_proj.weight");
    std::vector<float> w = m.tensors.at(name).toFloats();
    for (size_t i = 0; i < w.size(); i += 4) w[i] = w[i + 1] = 0;
    m.tensors.set(name, Tensor::fromFloats(m.tensors.at(name).shape(), w));
    m.sparsity[name] = SparsityInfo{2, 4, 0.5, "magnitude"};
  }
  Model q = m;
  for (const auto& [name, t] : m.tensors) {
    if (t.shape().size() != 2 || name.rfind("model.layers.", 0) != 0) continue;
    const std::vector<float> w = t.toFloats();
    q.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), QuantScheme{8, 0, true}));
  }
  ScratchDir dir("ct-sparse");
  checkExport(q, dir / "out");
  const json config = readJson(dir / "out/config.json");
  CHECK(config.count("sparsity_config") == 0);  // slmc's own record is not written beside it
  const json sc = config.at("quantization_config").at("sparsity_config");
  CHECK(sc.at("format") == "dense");
  CHECK(sc.at("sparsity_structure") == "2:4");
  CHECK(sc.at("targets") == json::array({"Linear"}));
  // Every linear without a record is ignored, lm_head included.
  std::set<std::string> ignored;
  for (const json& n : sc.at("ignore")) ignored.insert(n.get<std::string>());
  CHECK(ignored.size() == 5 * 6 + 1);
  CHECK(ignored.count("lm_head") == 1);
  CHECK(ignored.count("model.layers.0.self_attn.q_proj") == 0);
  CHECK(ignored.count("model.layers.0.self_attn.k_proj") == 1);
  // The zero fraction of all parameters: the q_projs' halves plus the zeros RTN and the model had.
  double zeros = 0, total = 0;
  for (const auto& [name, t] : q.tensors) {
    for (float v : t.toFloats()) zeros += v == 0.0f;
    total += static_cast<double>(t.numel());
  }
  CHECK(sc.at("global_sparsity").get<double>() == doctest::Approx(zeros / total).epsilon(1e-12));
  CHECK(sc.at("global_sparsity").get<double>() > 5.0 * 64 * 64 / 2 / total);
}

TEST_CASE("compressed-tensors export: schemes it has no equivalent of are refused, writing nothing") {
  ScratchDir dir("ct-refused");
  const auto refused = [&](const Model& m, const std::string& expected) {
    checkRefusedExport(m, HfQuantFormat::CompressedTensors, dir, expected, "--quant-format slmc");
    CHECK_FALSE(compressedTensorsExportability(m).possible);
  };
  refused(quantizedStories(QuantScheme{3, 32, true}), "'model.layers.0.self_attn.q_proj.weight' is int3-g32-sym");
  refused(quantizedStories(QuantScheme{2, 0, false}), "holds 4- and 8-bit integer weights only");

  Model embedding = quantizedStories(QuantScheme{4, 32, true});
  const Tensor& e = embedding.tensors.at(names::kEmbedTokens);
  embedding.setQuantized(names::kEmbedTokens, quantizeRtn(e.toFloats().data(), e.dim(0), e.dim(1), QuantScheme{8, 0, true}));
  refused(embedding, "'model.embed_tokens.weight' is quantized (int8-channel-sym)");

  Model w8a8 = quantizedStories(QuantScheme{8, 0, true});
  w8a8.activation_quant[names::layer(0, "mlp.up_proj.weight")] = ActivationQuant{8, true, 0};
  refused(w8a8, "weight-only");

  Model gpt2 = randomModel(parseHfConfig(R"({"architectures":["GPT2LMHeadModel"],"n_embd":32,"n_layer":1,"n_head":4,
      "vocab_size":64,"n_positions":32})", "gpt2"), 3);
  const Tensor& up = gpt2.tensors.at(names::layer(0, "mlp.up_proj.weight"));
  gpt2.setQuantized(names::layer(0, "mlp.up_proj.weight"),
                    quantizeRtn(up.toFloats().data(), up.dim(0), up.dim(1), QuantScheme{4, 0, true}));
  refused(gpt2, "GPT-2 Conv1D weight");

  // A float model has nothing to convert: it is the plain float export.
  CHECK(compressedTensorsExportability(stories260KModel()).possible);
  saveHfDirectory(stories260KModel(), dir / "float", HfQuantFormat::CompressedTensors);
  CHECK(readJson(dir / "float/config.json").count("quantization_config") == 0);
}

TEST_CASE("compressed-tensors export CLI: slmc export --quant-format, its refusals, and slmc inspect") {
  ScratchDir dir("ct-cli");
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o " + dir / "q4").exit_code == 0);
  CommandResult r = runSlmc("export " + dir / "q4" + " --format hf --quant-format compressed-tensors -o " + dir / "ct");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("compressed-tensors pack-quantized: 30 int4-g32-sym, 5 int4-channel-sym, exact") != std::string::npos);
  CHECK(readJson(dir / "ct/config.json").at("quantization_config").at("quant_method") == "compressed-tensors");
  CHECK(std::filesystem::exists(dir / "ct/model.safetensors"));

  // An existing output is replaced only with --force.
  expectError(runSlmc("export " + dir / "q4" + " --quant-format compressed-tensors -o " + dir / "ct"), "--force");
  CHECK(runSlmc("-q export " + dir / "q4" + " --quant-format compressed-tensors --force -o " + dir / "ct").exit_code == 0);

  // The same choice as an export pass option, in a pipeline.
  r = runSlmc("-q compress " + stories260K() +
              " --passes \"quantize(method=rtn,bits=8,group_size=0),export(format=hf,quant_format=compressed-tensors)\" -o " +
              dir / "pipeline");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(readJson(dir / "pipeline/config.json").at("quantization_config").at("config_groups").at("group_0").at("targets") ==
        json::array({"Linear"}));

  // Other formats have their own quantized types; an unknown choice is refused by the flag.
  expectError(runSlmc("export " + dir / "q4" + " --format pack --quant-format compressed-tensors -o " + dir / "m.slmc"),
              "--quant-format applies to --format hf only");
  CHECK(runSlmc("export " + dir / "q4" + " --quant-format awq -o " + dir / "x").exit_code != 0);

  // A 3-bit model is refused: one line naming the tensor, its scheme and the formats it can go to.
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 3 --group-size 32 -o " + dir / "q3").exit_code == 0);
  const size_t before = dir.entries();
  expectError(runSlmc("export " + dir / "q3" + " --quant-format compressed-tensors -o " + dir / "ct3"),
              "is int3-g32-sym, and compressed-tensors' pack-quantized format holds 4- and 8-bit integer weights only "
              "(export it with --quant-format slmc, or as a pack (--format pack))");
  CHECK(dir.entries() == before);

  // slmc inspect says whether (and how) a model goes to compressed-tensors.
  r = runSlmc("inspect " + dir / "q4");
  CHECK(r.out.find(", compressed-tensors (30 int4-g32-sym, 5 int4-channel-sym, exact)") != std::string::npos);
  r = runSlmc("inspect --json " + dir / "q3");
  REQUIRE(r.exit_code == 0);
  const json ct = json::parse(r.out).at("exports").at("compressed-tensors");
  CHECK(ct.at("possible") == false);
  CHECK(ct.at("exact") == false);
  CHECK(ct.at("detail").get<std::string>().find("int3-g32-sym") != std::string::npos);
}
