// Floats kept at their size (lib/format/float_dtype.h): the dtype each float tensor is written at by
// default and with --float-dtype, bfloat16 round trips through packs and Hugging Face
// directories, and the flag's bad values.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "lib/format/checkpoint.h"
#include "lib/format/float_dtype.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/format/safetensors.h"
#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;

namespace {

// q (Q4_1), k (Q8_0) and the others as test_gguf_model.cpp describes; ffn_down is F16, norms F32.
std::string tinyGguf() { return fixture("gguf/tiny_llama.gguf"); }

bool sameBytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0;
}

Model bf16Model() {
  Model m = randomModel(tinyLlamaConfig(), 23);
  for (const auto& [name, t] : Model(m).tensors) m.tensors.set(name, t.to(DType::BF16));
  return m;
}

std::string storageOf(const PackFile& pack, const std::string& name) {
  for (const PackTensor& t : pack.tensors())
    if (t.name == name) return weightTypeTraits(t.storage).storage_name;
  return "missing";
}

}  // namespace

TEST_CASE("float dtype: f32, f16 and bf16 parse, anything else is one line naming the choices") {
  CHECK(parseFloatDType("f32") == DType::F32);
  CHECK(parseFloatDType("f16") == DType::F16);
  CHECK(parseFloatDType("bf16") == DType::BF16);
  CHECK(errorOf([] { parseFloatDType("fp8"); }) == "--float-dtype 'fp8' is not a float dtype (use f32, f16 or bf16)");
  CHECK(errorOf([] { parseFloatDType("float32"); }) ==
        "--float-dtype 'float32' is not a float dtype (use f32, f16 or bf16)");
}

TEST_CASE("float dtype: GGUF tensors dequantized from a quantized type default to bf16, others keep theirs") {
  const Model m = loadModel(tinyGguf());
  const std::set<std::string> quantized = gguf::quantizedTensorNames(tinyGguf());
  CHECK(quantized.count("model.layers.0.self_attn.q_proj.weight"));  // Q4_1
  CHECK(quantized.count("model.layers.0.self_attn.k_proj.weight"));  // Q8_0
  CHECK_FALSE(quantized.count("model.layers.0.mlp.down_proj.weight"));  // F16
  CHECK_FALSE(quantized.count("model.norm.weight"));                    // F32
  CHECK(m.dequantized_from_source == quantized);  // recorded by the loader: the file is not read again

  // The default follows the model, not its path: a copy whose source is gone is written the same.
  Model detached = m;
  detached.source.clear();
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  CHECK(withWrittenFloatDTypes(detached, std::nullopt).tensors.at(q).dtype() == DType::BF16);

  const Model written = withWrittenFloatDTypes(m, std::nullopt);
  for (const auto& [name, t] : m.tensors) {
    CAPTURE(name);
    const Tensor& w = written.tensors.at(name);
    if (quantized.count(name)) {
      REQUIRE(t.dtype() == DType::F32);  // exact in memory
      CHECK(sameBytes(w, t.to(DType::BF16)));
    } else {
      CHECK(sameBytes(w, t));
    }
  }
  // A chosen dtype applies to every float tensor; f32 is the exact dequantized model.
  const Model f32 = withWrittenFloatDTypes(m, DType::F32);
  for (const auto& [name, t] : m.tensors) CHECK(sameBytes(f32.tensors.at(name), t.to(DType::F32)));
  const Model f16 = withWrittenFloatDTypes(m, DType::F16);
  for (const auto& [name, t] : f16.tensors) CHECK(t.dtype() == DType::F16);
}

TEST_CASE("float dtype: quantized weights are never converted, the float tensors beside them are") {
  Model m = randomModel(tinyLlamaConfig(), 4);
  const std::string w = names::layer(0, "mlp.up_proj.weight");
  const std::vector<float> values = m.tensors.at(w).toFloats();
  m.setQuantized(w, quantizeRtn(values.data(), 48, 32, QuantScheme{4, 16, true}));
  const Model written = withWrittenFloatDTypes(m, DType::BF16);
  CHECK(sameBytes(written.tensors.at(w), m.tensors.at(w)));
  CHECK(written.quantized.at(w) == m.quantized.at(w));
  CHECK(written.tensors.at(names::kEmbedTokens).dtype() == DType::BF16);
  CHECK(written.tensors.at(names::kLmHead).dtype() == DType::BF16);
}

TEST_CASE("float dtype: bf16 stays bf16 bit for bit through a pack and a Hugging Face directory") {
  ScratchDir dir("float-dtype-bf16");
  const Model m = bf16Model();
  writePack(m, dir / "m.slmc", {"random", "", "", "test"});
  const Model from_pack = loadModel(dir / "m.slmc");
  saveHfDirectory(from_pack, dir / "hf");
  const NamedTensors st = readSafetensors(dir / "hf/model.safetensors");
  for (const auto& [name, t] : st.tensors) CHECK(t.dtype() == DType::BF16);
  const Model from_hf = loadModel(dir / "hf");
  for (const auto& [name, t] : m.tensors) {
    CAPTURE(name);
    CHECK(sameBytes(from_pack.tensors.at(name), t));
    CHECK(sameBytes(from_hf.tensors.at(name), t));
  }
}

TEST_CASE("cli --float-dtype: export (pack, hf), quantize and compress write the chosen dtype, bad values exit 1") {
  ScratchDir dir("cli-float-dtype");
  const std::string gguf = tinyGguf();

  // Default: the GGUF's quantized tensors become bfloat16, F16 stays float16, F32 float32.
  REQUIRE(runSlmc("-q export " + gguf + " -o " + dir / "d.slmc").exit_code == 0);
  {
    const PackFile pack = PackFile::open(dir / "d.slmc");
    CHECK(storageOf(pack, "model.layers.0.self_attn.q_proj.weight") == "bfloat16");
    CHECK(storageOf(pack, "model.layers.0.mlp.down_proj.weight") == "float16");
    CHECK(storageOf(pack, "model.norm.weight") == "float32");
  }
  REQUIRE(runSlmc("-q export " + gguf + " --float-dtype f32 -o " + dir / "f.slmc").exit_code == 0);
  {
    const PackFile pack = PackFile::open(dir / "f.slmc");
    for (const PackTensor& t : pack.tensors()) CHECK(t.storage == pack::Storage::F32);
    CHECK(sameBytes(loadModel(dir / "f.slmc").tensors.at("model.layers.0.self_attn.k_proj.weight"),
                    loadModel(gguf).tensors.at("model.layers.0.self_attn.k_proj.weight")));
  }
  REQUIRE(runSlmc("-q export " + gguf + " --format hf --float-dtype f16 -o " + dir / "hf").exit_code == 0);
  for (const auto& [name, t] : readSafetensors(dir / "hf/model.safetensors").tensors) CHECK(t.dtype() == DType::F16);

  // quantize / compress: the tensors kept float (embedding, head, norms) at the chosen dtype.
  REQUIRE(runSlmc("-q quantize " + gguf + " --method rtn --bits 8 --group-size 32 --float-dtype bf16 -o " + dir / "q")
              .exit_code == 0);
  const Model q = loadModel(dir / "q");
  CHECK(q.tensors.at(names::kEmbedTokens).dtype() == DType::BF16);
  CHECK(q.tensors.at("model.norm.weight").dtype() == DType::BF16);
  CHECK(q.quantized.count("model.layers.0.self_attn.q_proj.weight"));
  writeFile(dir / "r.yaml",
            "version: 1\nfloat_dtype: f16\npasses:\n  - quantize: {method: rtn, bits: 8, group_size: 32}\n");
  REQUIRE(runSlmc("-q compress " + gguf + " --recipe " + dir / "r.yaml" + " -o " + dir / "c").exit_code == 0);
  CHECK(loadModel(dir / "c").tensors.at(names::kEmbedTokens).dtype() == DType::F16);

  // Bad values: one line, exit 1, nothing written.
  for (const std::string& args :
       {"export " + gguf + " --float-dtype fp8 -o " + dir / "bad.slmc",
        "quantize " + gguf + " --method rtn --float-dtype fp8 -o " + dir / "bad",
        "compress " + gguf + " --passes \'quantize(method=rtn)\' --float-dtype fp8 -o " + dir / "bad"}) {
    CAPTURE(args);
    const CommandResult r = runSlmc(args);
    CHECK(r.exit_code == 1);
    CHECK(r.err == "slmc: error: --float-dtype 'fp8' is not a float dtype (use f32, f16 or bf16)\n");
    CHECK_FALSE(fs::exists(dir / "bad.slmc"));
    CHECK_FALSE(fs::exists(dir / "bad"));
  }
  writeFile(dir / "bad.yaml", "version: 1\nfloat_dtype: fp8\npasses:\n  - quantize: {method: rtn}\n");
  const CommandResult r = runSlmc("compress " + gguf + " --recipe " + dir / "bad.yaml" + " -o " + dir / "bad");
  CHECK(r.exit_code == 1);
  CHECK(countLines(r.err) == 1);
  CHECK(r.err.find("bad.yaml:2: float_dtype 'fp8' is not a float dtype (use f32, f16 or bf16)") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "bad"));
}
