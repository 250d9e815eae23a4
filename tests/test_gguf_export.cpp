// GGUF export: the writer (every value type, alignment, damaged inputs), the ggml block encodings
// of slmc's grids (bit-exact where claimed, measured where re-encoded), whole-model exports read
// back by slmc's own GGUF reader bit for bit, the tokenizer.json → tokenizer.ggml.* conversion,
// and the CLI's bad-input errors.
#include <doctest/doctest.h>

#include <optional>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "datasets/tokenizer.h"
#include "lib/format/float_dtype.h"
#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/format/gguf/gguf_encode.h"
#include "lib/format/gguf/gguf_export.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/format/gguf/gguf_tokenizer_from_hf.h"
#include "lib/format/gguf/gguf_types.h"
#include "lib/format/gguf/gguf_writer.h"
#include "lib/model/random_model.h"
#include "lib/support/error.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::gguf;
using namespace slmc::test;

namespace {

std::shared_ptr<const GgufFile> readBack(const GgufWriter& w) {
  auto bytes = std::make_shared<std::string>(w.bytes());
  return GgufFile::fromBytes(bytes, reinterpret_cast<const std::byte*>(bytes->data()), bytes->size(), "written");
}

std::vector<float> pseudoRandom(int64_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = scale * (static_cast<float>((s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f);
  }
  return v;
}

bool bitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every tensor of `back` holds exactly the values of `model`'s (quantized weights: their
// dequantized values), in the same dtype for float tensors of 2 dimensions.
void checkSameWeights(const Model& model, const Model& back, const std::string& skip = "") {
  REQUIRE(back.tensors.size() == model.tensors.size());
  for (const auto& [name, tensor] : model.tensors) {
    if (name == skip) continue;
    const Tensor& b = back.tensors.at(name);
    CHECK_MESSAGE(b.shape() == tensor.shape(), name);
    if (!model.quantized.count(name) && tensor.shape().size() == 2) CHECK_MESSAGE(b.dtype() == tensor.dtype(), name);
    CHECK_MESSAGE(bitEqual(b.toFloats(), tensor.toFloats()), name);
  }
}

// The same architecture; GGUF holds the epsilon and RoPE base as float32.
void checkSameConfig(const ModelConfig& model, ModelConfig back) {
  CHECK(static_cast<float>(back.norm_eps) == static_cast<float>(model.norm_eps));
  CHECK(static_cast<float>(back.rope_theta) == static_cast<float>(model.rope_theta));
  back.norm_eps = model.norm_eps;
  back.rope_theta = model.rope_theta;
  CHECK(hfConfigJson(back) == hfConfigJson(model));
}

}  // namespace

TEST_CASE("gguf writer: every metadata value type, arrays and tensors read back as written") {
  GgufWriter w;
  const std::pair<ValueType, int64_t> ints[] = {{ValueType::UInt8, 255},         {ValueType::Int8, -128},
                                                {ValueType::UInt16, 65535},      {ValueType::Int16, -32768},
                                                {ValueType::UInt32, 4294967295}, {ValueType::Int32, -2147483647 - 1},
                                                {ValueType::UInt64, 1ll << 62},  {ValueType::Int64, -(1ll << 62)},
                                                {ValueType::Bool, 1}};
  for (const auto& [type, value] : ints) {
    MetaValue v;
    v.type = type;
    v.integer = value;
    w.set(std::string("int.") + valueTypeName(type), v);
  }
  MetaValue f64;
  f64.type = ValueType::Float64;
  f64.real = 0.1;
  w.set("real.f64", f64);
  w.setFloat32("real.f32", 0.1f);
  w.setString("text", "h\xC3\xA9llo");
  w.setStringArray("array.strings", {"a", "", "b c"});
  w.setIntArray("array.i16", ValueType::Int16, {-3, 0, 7});
  w.setIntArray("array.bool", ValueType::Bool, {1, 0});
  w.setFloat32Array("array.f32", {1.5f, -2.0f});
  w.setUInt32("int.uint32", 7);  // replaces in place: the key keeps its position
  w.setAlignment(64);
  w.addTensor("a", kGgmlF32, {3}, std::string(12, '\x01'));
  w.addTensor("b", kGgmlF16, {2, 2}, std::string(8, '\x02'));
  w.addTensor("c", 8 /* Q8_0 */, {32, 2}, std::string(68, '\x03'));

  const auto f = readBack(w);
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 64);
  CHECK(f->keys().front() == "int.uint8");
  CHECK(f->keys()[4] == "int.uint32");
  for (const auto& [type, value] : ints) {
    const MetaValue* v = f->find(std::string("int.") + valueTypeName(type));
    REQUIRE(v != nullptr);
    CHECK(v->type == type);
    CHECK(v->integer == (type == ValueType::UInt32 ? 7 : value));
  }
  CHECK(f->find("real.f64")->real == 0.1);
  CHECK(*f->getFloat("real.f32") == static_cast<double>(0.1f));
  CHECK(*f->getString("text") == "h\xC3\xA9llo");
  CHECK(f->getStringArray("array.strings") == std::vector<std::string>{"a", "", "b c"});
  CHECK(f->find("array.i16")->element_type == ValueType::Int16);
  CHECK(f->getIntArray("array.i16") == std::vector<int64_t>{-3, 0, 7});
  CHECK(f->find("array.bool")->integers == std::vector<int64_t>{1, 0});
  CHECK(f->getFloatArray("array.f32") == std::vector<float>{1.5f, -2.0f});
  REQUIRE(f->tensors().size() == 3);
  CHECK(f->tensors()[1].offset == 64);  // 12 bytes padded to the alignment
  CHECK(f->tensors()[2].offset == 128);
  CHECK(std::string(reinterpret_cast<const char*>(f->tensors()[2].data), 68) == std::string(68, '\x03'));
}

TEST_CASE("gguf writer: bad tensors and values are one clear error, and a failed write leaves no file") {
  GgufWriter w;
  w.addTensor("x", kGgmlF32, {2}, std::string(8, '\0'));
  checkError(errorOf([&] { w.addTensor("x", kGgmlF32, {2}, std::string(8, '\0')); }), "GGUF tensor 'x' is added twice");
  checkError(errorOf([&] { w.addTensor(std::string(64, 'n'), kGgmlF32, {2}, std::string(8, '\0')); }),
             "names must be 1 to 63 bytes");
  checkError(errorOf([&] { w.addTensor("y", kGgmlF32, {2}, std::string(7, '\0')); }),
             "GGUF tensor 'y' has 7 bytes; F32 of that shape takes 8");
  checkError(errorOf([&] { w.addTensor("z", 2 /* Q4_0 */, {48}, std::string(27, '\0')); }),
             "a row of 48 values is not a whole number of Q4_0 blocks of 32");
  checkError(errorOf([&] { w.addTensor("d", kGgmlF32, {1, 1, 1, 1, 1}, std::string(4, '\0')); }), "GGUF holds 1 to 4");
  checkError(errorOf([&] { w.setIntArray("k", ValueType::UInt8, {256}); }),
             "GGUF metadata 'k': value 256 does not fit uint8");
  checkError(errorOf([&] { w.setAlignment(48); }), "'general.alignment' must be a uint32 power of two");

  ScratchDir dir("gguf-writer");
  checkError(errorOf([&] { w.write(dir / "missing/x.gguf"); }), "cannot write");
  CHECK(dir.entries() == 0);
  const uint64_t written = w.write(dir / "x.gguf");
  CHECK(written == std::filesystem::file_size(dir / "x.gguf"));
  CHECK(dir.entries() == 1);
}

TEST_CASE("gguf encode: slmc grids become the smallest ggml type that holds them, bit for bit") {
  const int64_t rows = 6, cols = 128;
  const std::vector<float> w = pseudoRandom(rows * cols, 7);
  struct Case {
    QuantScheme scheme;
    const char* type;
  };
  const Case cases[] = {
      {{4, 32, true}, "Q4_0"},  {{4, 128, true}, "Q4_0"}, {{4, 0, true}, "Q4_0"},  {{3, 64, true}, "Q4_0"},
      {{2, 32, true}, "Q4_0"},  {{8, 32, true}, "Q8_0"},  {{8, 0, true}, "Q8_0"},  {{4, 32, false}, "Q5_0"},
      {{3, 32, false}, "Q4_0"},  // offsets q - zero of 3 bits lie in [-7, 7]
      // int5 symmetric is Q5_0 bit for bit (zero 16: c - 16 = q - zero), int6 symmetric a Q8_0
      // whose offsets lie in [-32, 31].
      {{5, 32, true}, "Q5_0"},  {{5, 128, true}, "Q5_0"}, {{5, 0, true}, "Q5_0"},  {{6, 32, true}, "Q8_0"},
      {{6, 64, true}, "Q8_0"},  {{6, 0, true}, "Q8_0"},
  };
  for (const Case& c : cases) {
    CAPTURE(schemeName(c.scheme));
    const QuantizedTensor q = quantizeRtn(w.data(), rows, cols, c.scheme);
    const GgmlEncoding e = encodeForGguf(q);
    CHECK(std::string(ggmlType(e.type).name) == c.type);
    CHECK(e.exact);
    CHECK(e.max_abs_error == 0);
    std::vector<float> back(static_cast<size_t>(rows * cols));
    ggmlType(e.type).to_float(reinterpret_cast<const std::byte*>(e.bytes.data()), back.data(), rows * cols);
    CHECK(bitEqual(back, q.dequantize().toFloats()));
  }
}

TEST_CASE("gguf encode: Q4_1 where -zero * scale is a float16, otherwise re-encoded with the error measured") {
  const int64_t rows = 2, cols = 64;
  const std::vector<float> w = pseudoRandom(rows * cols, 3);
  // Power-of-two scales make every -zero * scale a float16: Q4_1 (5 bits/weight) beats Q5_0.
  // Zero 3 puts offsets up to +8, past Q4_0's [-8, 7].
  std::vector<GroupGrid> grids(4, GroupGrid{0.125f, 3});
  const QuantizedTensor q4 = quantizeOnGrids(w.data(), rows, cols, {4, 32, false}, grids);
  GgmlEncoding e = encodeForGguf(q4);
  CHECK(std::string(ggmlType(e.type).name) == "Q4_1");
  CHECK(e.exact);

  // Groups of 16 split ggml's blocks of 32: Q4_1 by ggml's own quantizer, error read back.
  const QuantizedTensor g16 = quantizeRtn(w.data(), rows, cols, {4, 16, false});
  e = encodeForGguf(g16);
  CHECK(std::string(ggmlType(e.type).name) == "Q4_1");
  CHECK_FALSE(e.exact);
  CHECK(e.max_abs_error > 0);
  CHECK(e.max_abs_error < 0.2);  // about half a Q4_1 step of a [-1, 1] block
  CHECK(e.reason.find("groups of 16 split 32-value blocks") != std::string::npos);

  // Asymmetric 8-bit whose offsets q - zero leave int8: re-encoded as Q8_0.
  std::vector<float> skewed(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < skewed.size(); ++i) skewed[i] = 0.01f + static_cast<float>(i % 64);
  e = encodeForGguf(quantizeRtn(skewed.data(), rows, cols, {8, 32, false}));
  CHECK(std::string(ggmlType(e.type).name) == "Q8_0");
  CHECK_FALSE(e.exact);
  CHECK(e.reason.find("offsets q - zero span") != std::string::npos);

  // Asymmetric int5 / int6 with zero 0 (all weights positive): offsets up to 31 / 63 leave
  // Q5_0 but not int8, so Q8_0 holds them exactly.
  for (int bits : {5, 6}) {
    CAPTURE(bits);
    const QuantizedTensor q = quantizeRtn(skewed.data(), rows, cols, {bits, 32, false});
    e = encodeForGguf(q);
    CHECK(std::string(ggmlType(e.type).name) == "Q8_0");
    CHECK(e.exact);
    std::vector<float> back(static_cast<size_t>(rows * cols));
    ggmlType(e.type).to_float(reinterpret_cast<const std::byte*>(e.bytes.data()), back.data(), rows * cols);
    CHECK(bitEqual(back, q.dequantize().toFloats()));
    // Groups of 16 split the blocks: re-encoded as Q8_0 (above 4 bits), the error measured.
    e = encodeForGguf(quantizeRtn(w.data(), rows, cols, {bits, 16, true}));
    CHECK(std::string(ggmlType(e.type).name) == "Q8_0");
    CHECK_FALSE(e.exact);
    CHECK(e.max_abs_error > 0);
    CHECK(e.max_abs_error < 0.01);  // half a Q8_0 step of a [-1, 1] block
  }

  // Rows that are not whole blocks: F32, exact.
  const std::vector<float> odd = pseudoRandom(2 * 48, 5);
  e = encodeForGguf(quantizeRtn(odd.data(), 2, 48, {4, 16, true}));
  CHECK(e.type == kGgmlF32);
  CHECK(e.exact);
}

TEST_CASE("gguf export: a quantized tiny llama reads back bit for bit: weights, config and tokenizer") {
  Model model = loadModel(fixture("gguf/tiny_llama.gguf"));
  // Quantize a mix of schemes, q/k included (their rows are permuted on the way out).
  const std::pair<const char*, QuantScheme> schemes[] = {{"model.layers.0.self_attn.q_proj.weight", {4, 32, true}},
                                                          {"model.layers.0.self_attn.k_proj.weight", {4, 32, false}},
                                                          {"model.layers.0.self_attn.v_proj.weight", {8, 0, true}},
                                                          {"model.layers.0.self_attn.o_proj.weight", {5, 32, true}},
                                                          {"model.layers.0.mlp.gate_proj.weight", {6, 32, true}},
                                                          {"model.layers.0.mlp.up_proj.weight", {4, 16, true}}};
  for (const auto& [name, scheme] : schemes) {
    const Tensor& t = model.tensors.at(name);
    const std::vector<float> v = t.toFloats();
    model.setQuantized(name, quantizeRtn(v.data(), t.dim(0), t.dim(1), scheme));
  }
  std::string origin;
  const auto tokenizer = ggufTokenizerFor(model, "", origin);
  REQUIRE(tokenizer.has_value());
  CHECK(origin == model.source);
  GgufExport out = buildGgufExport(model, &*tokenizer, {});
  const auto file = readBack(out.writer);
  const Model back = ggufToModel(*file);
  checkSameWeights(model, back, "model.layers.0.mlp.up_proj.weight");
  checkSameConfig(model.config, back.config);

  std::map<std::string, std::string> types;
  for (const GgufTensorRecord& r : out.tensors) types[r.name] = r.ggml_type;
  CHECK(types["model.layers.0.self_attn.q_proj.weight"] == "Q4_0");
  CHECK(types["model.layers.0.self_attn.k_proj.weight"] == "Q5_0");
  CHECK(types["model.layers.0.self_attn.v_proj.weight"] == "Q8_0");
  CHECK(types["model.layers.0.self_attn.o_proj.weight"] == "Q5_0");  // int5 g32: exact
  CHECK(types["model.layers.0.mlp.gate_proj.weight"] == "Q8_0");     // int6 g32: exact
  CHECK(types["model.layers.0.mlp.down_proj.weight"] == "F16");  // float tensors keep their dtype
  CHECK(types["model.layers.0.input_layernorm.weight"] == "F32");
  // Groups of 16 are re-encoded (the one non-exact tensor, so the weights above differ there).
  CHECK(types["model.layers.0.mlp.up_proj.weight"] == "Q4_1");
  CHECK(out.warnings.size() == 1);
  CHECK(*file->getInt("general.quantization_version") == 2);

  // The fixture's tokenizer keys are carried as they are.
  const auto source = GgufFile::open(fixture("gguf/tiny_llama.gguf"));
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id"}) {
    REQUIRE(file->find(key) != nullptr);
    CHECK(file->find(key)->typeName() == source->find(key)->typeName());
  }
  CHECK(file->getStringArray("tokenizer.ggml.tokens") == source->getStringArray("tokenizer.ggml.tokens"));

  GgufExportOptions exact;
  exact.exact = true;
  checkError(errorOf([&] { buildGgufExport(model, &*tokenizer, exact); }),
             "--exact: tensor 'model.layers.0.mlp.up_proj.weight': no ggml type holds int4-g16-sym's grid");
}

TEST_CASE("gguf export: stories260K (float, odd-sized rows) and a tied random llama read back bit for bit") {
  const Model& stories = stories260KModel();
  GgufExport out = buildGgufExport(stories, nullptr, {});
  Model back = ggufToModel(*readBack(out.writer));
  checkSameWeights(stories, back);
  checkSameConfig(stories.config, back.config);

  TinyShape shape;
  shape.tied = true;
  shape.hidden = 64;
  shape.intermediate = 96;
  shape.head_dim = 32;  // head_dim * heads != hidden: key_length is written
  const Model tied = randomModel(tinyLlamaConfig(shape), 11);
  out = buildGgufExport(tied, nullptr, {});
  const auto file = readBack(out.writer);
  CHECK(file->findTensor("output.weight") == nullptr);
  CHECK(*file->getInt("llama.attention.key_length") == 32);
  back = ggufToModel(*file);
  checkSameWeights(tied, back);
  checkSameConfig(tied.config, back.config);
}

TEST_CASE("gguf export: architectures llama.cpp's llama cannot express are refused by name") {
  const Model gpt2 = randomModel(tinyGpt2Config(1, 32, 16), 1);
  checkError(errorOf([&] { buildGgufExport(gpt2, nullptr, {}); }),
             "cannot export a gpt2-family model (GPT2LMHeadModel) as GGUF");
  ModelConfig qwen = tinyLlamaConfig();
  qwen.qkv_bias = true;
  qwen.architecture = "Qwen2ForCausalLM";
  checkError(errorOf([&] { buildGgufExport(randomModel(qwen, 1), nullptr, {}); }),
             "cannot export Qwen2ForCausalLM as GGUF: llama.cpp's llama architecture has no linear biases");
}

TEST_CASE("gguf export: SmolLM2's tokenizer.json becomes exactly its GGUF's tokenizer.ggml.* keys") {
  const std::string gguf_path =
      realFile(modelsDir() + "/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf", "SLMC_MODELS");
  const std::string dir = modelsDir() + "/smollm2-135m-instruct";
  const GgufTokenizerMetadata original = tokenizerMetadata(*GgufFile::open(gguf_path));
  const GgufTokenizerMetadata m =
      ggufTokenizerFromHf(readFile(dir + "/tokenizer.json"), readFile(dir + "/tokenizer_config.json"), dir);
  CHECK(m.model == original.model);
  CHECK(m.pre == "smollm");
  CHECK(m.pre == original.pre);
  CHECK(m.tokens == original.tokens);
  CHECK(m.token_types == original.token_types);
  CHECK(m.merges == original.merges);
  CHECK(m.bos_id == original.bos_id);
  CHECK(m.eos_id == original.eos_id);
  CHECK(m.pad_id == original.pad_id);
  CHECK(m.add_bos == original.add_bos);
  CHECK(m.chat_template == original.chat_template);

  // A model with that vocabulary exported and tokenized from the GGUF gives tokenizer.json's ids.
  TinyShape shape;
  shape.vocab = static_cast<int64_t>(m.tokens.size());
  const Model model = randomModel(tinyLlamaConfig(shape), 2);
  ScratchDir scratch("gguf-export-tokenizer");
  buildGgufExport(model, &m, {}).writer.write(scratch / "m.gguf");
  const std::string text = "The 2 cats' caf\xC3\xA9 — <|im_start|>user\n  123456 tokens!\n";
  const auto from_gguf = loadTokenizer(scratch / "m.gguf"), from_json = loadTokenizer(dir + "/tokenizer.json");
  CHECK(from_gguf->encode(text, false) == from_json->encode(text, false));
}

TEST_CASE("gguf export: tokenizers without a llama.cpp equivalent are refused in one line") {
  nlohmann::json t = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}},
                      {"pre_tokenizer", {{"type", "Whitespace"}}}};
  checkError(errorOf([&] { ggufTokenizerFromHf(t.dump(), "", "m"); }),
             "tokenizer.json of 'm': its pre_tokenizer {\"type\":\"Whitespace\"} matches no llama.cpp tokenizer.ggml.pre");
  t["pre_tokenizer"] = nullptr;
  t["model"]["byte_fallback"] = true;
  checkError(errorOf([&] { ggufTokenizerFromHf(t.dump(), "", "m"); }), "is a SentencePiece-style BPE");
  t["model"]["type"] = "Unigram";
  checkError(errorOf([&] { ggufTokenizerFromHf(t.dump(), "", "m"); }), "model type 'Unigram' has no GGUF equivalent");
}

TEST_CASE("gguf export CLI: writes the file and its report, an existing output needs --force") {
  ScratchDir dir("gguf-export-cli");
  const std::string tiny = fixture("gguf/tiny_llama.gguf");
  CommandResult r = runSlmc("export " + tiny + " -o " + dir / "t.gguf");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("GGUF v3, llama") != std::string::npos);
  const nlohmann::json report = readJson(dir / "t.gguf.report.json");
  CHECK(report.at("format") == "gguf");
  CHECK(report.at("exact") == true);
  CHECK(report.at("tensors").size() == 12);
  // tensor_types stays an object of counts per ggml type, one count per tensor row.
  REQUIRE(report.at("tensor_types").is_object());
  size_t counted = 0;
  for (const auto& [type, n] : report.at("tensor_types").items()) counted += n.get<size_t>();
  CHECK(counted == 12);
  // The fixture's quantized GGUF tensors are dequantized on load and written as bf16 by default
  // (lib/format/float_dtype.h); its F16 tensor stays F16: the export holds the model as written.
  checkSameWeights(withWrittenFloatDTypes(loadModel(tiny), std::nullopt), loadModel(dir / "t.gguf"));

  expectError(runSlmc("export " + tiny + " -o " + dir / "t.gguf"), "exists (pass --force to replace it");
  CHECK(runSlmc("export " + tiny + " -o " + dir / "t.gguf --force").exit_code == 0);
  expectError(runSlmc("export " + tiny + " --format hf --exact -o " + dir / "hf"), "apply to --format gguf only");
}

TEST_CASE("gguf export CLI: --exact refuses a grid no ggml type holds, slmc inspect says how a model exports") {
  ScratchDir dir("gguf-export-cli-exact");
  const std::string tiny = fixture("gguf/tiny_llama.gguf");
  // A 16-column group scheme no ggml type holds: --exact fails and leaves nothing.
  REQUIRE(runSlmc("-q quantize " + tiny + " --method rtn --bits 4 --group-size 16 -o " + dir / "q16").exit_code == 0);
  const size_t before = dir.entries();
  expectError(runSlmc("export " + dir / "q16" + " --exact -o " + dir / "q16.gguf"), "--exact: tensor 'model.layers.0.");
  CHECK(dir.entries() == before);
  CommandResult r = runSlmc("export " + dir / "q16" + " -o " + dir / "q16.gguf");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(readJson(dir / "q16.gguf.report.json").at("tensors_reencoded").get<int>() > 0);

  // slmc inspect says which formats the model exports to, and how.
  r = runSlmc("inspect " + tiny);
  CHECK(r.out.find("exports      hf, pack, gguf (exact: 1 F16, 11 F32)") != std::string::npos);
  r = runSlmc("inspect --json " + dir / "q16");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json gguf = nlohmann::json::parse(r.out).at("exports").at("gguf");
  CHECK(gguf.at("possible") == true);
  CHECK(gguf.at("exact") == false);
  CHECK(gguf.at("detail").get<std::string>().find("tensors re-encoded") != std::string::npos);
}
