// The .slmc pack: exact round trips of float and quantized models, the in-place block layout,
// determinism, real stories260K logits, and every corrupt file the reader must reject (built on
// purpose, like llama.cpp's test-gguf.cpp), end to end through `slmc export` / `slmc verify`.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lib/format/checkpoint.h"
#include "lib/format/pack_format.h"
#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/model/bit_packing.h"
#include "lib/model/model_config.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "lib/support/crc32.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

ModelConfig tinyConfig(const std::string& arch) {
  if (arch == "gpt2")
    return parseHfConfig(R"({"architectures":["GPT2LMHeadModel"],"n_embd":32,"n_layer":2,"n_head":4,
        "vocab_size":64,"n_positions":32})", "gpt2");
  return parseHfConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":48,
      "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":64,
      "max_position_embeddings":32,"tie_word_embeddings":false})", "llama");
}

// Every bit width, symmetric and asymmetric, grouped and per-channel.
const QuantScheme kSchemes[] = {{2, 16, false}, {3, 0, true}, {4, 16, true}, {8, 0, false},
                                {3, 16, false}, {2, 0, true}, {4, 0, false}, {8, 16, true},
                                {5, 16, true},  {6, 0, false}, {5, 0, false}, {6, 16, true}};

// Quantizes every layer weight with RTN, cycling through kSchemes.
void quantizeAll(Model& m) {
  std::vector<std::string> targets;
  for (const auto& [name, t] : m.tensors)
    if (t.shape().size() == 2 && name.rfind("model.layers.", 0) == 0) targets.push_back(name);
  size_t k = 0;
  for (const std::string& name : targets) {
    const Tensor& t = m.tensors.at(name);
    const std::vector<float> w = t.toFloats();
    m.setQuantized(name, quantizeRtn(w.data(), t.dim(0), t.dim(1), kSchemes[k++ % std::size(kSchemes)]));
  }
}

Model quantizedModel(const std::string& arch) {
  Model m = randomModel(tinyConfig(arch), 11);
  quantizeAll(m);
  m.activation_quant[names::layer(0, "self_attn.q_proj.weight")] = ActivationQuant{8, false, 0.0125f};
  m.activation_quant[names::layer(1, "mlp.down_proj.weight")] = ActivationQuant{8, true, 0};
  return m;
}

PackProvenance testProvenance() { return {"random", "", "quantize(method=rtn)", "test"}; }

std::string packBytesOf(const Model& m, const std::vector<EmbeddedFile>& tokenizer = {}) {
  ScratchDir dir("pack-bytes");
  writePack(m, dir / "m.slmc", testProvenance(), tokenizer);
  return readFile(dir / "m.slmc");
}

void checkSameTensorBytes(const Tensor& a, const Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  CHECK(std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0);
}

// ---- corrupting packs on purpose ----

pack::Header headerOf(const std::string& bytes) {
  pack::Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  return h;
}
void setHeader(std::string& bytes, const pack::Header& h) { std::memcpy(bytes.data(), &h, sizeof h); }

pack::BlockEntry entryOf(const std::string& bytes, size_t i) {
  pack::BlockEntry e;
  std::memcpy(&e, bytes.data() + sizeof(pack::Header) + i * sizeof e, sizeof e);
  return e;
}
void setEntry(std::string& bytes, size_t i, const pack::BlockEntry& e) {
  std::memcpy(bytes.data() + sizeof(pack::Header) + i * sizeof e, &e, sizeof e);
}

// Recomputes the table, metadata and header checksums, so that only the damage done on
// purpose is left for the reader to find.
void reseal(std::string& bytes) {
  pack::Header h = headerOf(bytes);
  const uint64_t table_bytes = uint64_t{h.block_count} * sizeof(pack::BlockEntry);
  if (sizeof h + table_bytes <= bytes.size()) h.table_crc32 = crc32c(bytes.data() + sizeof h, table_bytes);
  if (h.metadata_offset + h.metadata_bytes <= bytes.size())
    h.metadata_crc32 = crc32c(bytes.data() + h.metadata_offset, h.metadata_bytes);
  h.header_crc32 = crc32c(&h, pack::kHeaderCrcBytes);
  setHeader(bytes, h);
}

// The same blocks under other metadata, laid out by the writer's own emitPack.
std::string withMetadata(const PackFile& pack, const json& metadata) {
  std::vector<PackBlockRef> blocks;
  for (size_t i = 0; i < pack.blocks().size(); ++i) blocks.push_back({pack.blockView(i).data, pack.blockView(i).bytes});
  std::string out;
  emitPack(metadata.dump(), blocks, [&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
  return out;
}

std::string openError(const std::string& bytes) {
  return errorOf([&] { PackFile::fromBytes(bytes, "t.slmc"); });
}

}  // namespace

TEST_CASE("pack: CRC-32C check value and running checksums") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000})
    CHECK(crc32c(data.data() + split, data.size() - split, crc32c(data.data(), split)) == crc32c(data.data(), data.size()));
  // The instruction path (where the CPU has it) and the portable tables agree at every length and offset.
  CHECK(crc32cPortable("123456789", 9) == 0xE3069283u);
  for (size_t offset : {0, 1, 3})
    for (size_t n = 0; n + offset <= data.size(); n += 37)
      REQUIRE(crc32c(data.data() + offset, n, 0x12345678u) == crc32cPortable(data.data() + offset, n, 0x12345678u));
}

TEST_CASE("pack: the storage table sizes quantized blocks exactly as quant_scheme.h counts them") {
  for (const QuantScheme& s : kSchemes)
    for (int64_t rows : {1, 3, 48})
      for (int64_t cols : {16, 32, 48}) {
        CAPTURE(schemeName(s));
        CAPTURE(cols);
        const pack::QuantizedBlockBytes b = pack::quantizedBlockBytes(s, rows, cols);
        CHECK(b.total() == quantizedBytes(s, rows, cols));
        CHECK(b.codes == rows * packedRowBytes(cols, s.bits()));
        REQUIRE(integerType(s.bits()).has_value());
        CHECK(findStorage(weightTypeTraits(*integerType(s.bits())).storage_name)->bits == s.bits());
      }
  CHECK(pack::storageDType(findStorage("float16")->type) == DType::F16);
  CHECK(pack::storageDType(findStorage("bfloat16")->type) == DType::BF16);
  CHECK(pack::floatStorage(DType::BF16) == pack::Storage::BF16);
  CHECK(static_cast<int>(pack::Storage::BF16) == 6);  // appended: older storages keep their index
  CHECK(findStorage("int7") == nullptr);
}

TEST_CASE("pack: float models round trip bit for bit (F32, F16 and BF16 kept)") {
  for (const std::string arch : {"llama", "gpt2"}) {
    CAPTURE(arch);
    Model m = randomModel(tinyConfig(arch), 3);
    const std::string embed = names::kEmbedTokens, norm = names::layer(1, "input_layernorm.weight");
    m.tensors.set(embed, m.tensors.at(embed).to(DType::F16));
    m.tensors.set(norm, m.tensors.at(norm).to(DType::BF16));
    ScratchDir dir("pack-float-" + arch);
    writePack(m, dir / "m.slmc", testProvenance());
    const Model back = loadModel(dir / "m.slmc");  // dispatch by magic
    CHECK(back.config.architecture == m.config.architecture);
    CHECK(back.config.hidden_size == m.config.hidden_size);
    CHECK(back.config.tie_word_embeddings == m.config.tie_word_embeddings);
    CHECK(back.quantized.empty());
    REQUIRE(back.tensors.size() == m.tensors.size());
    for (const auto& [name, t] : m.tensors) {
      CAPTURE(name);
      checkSameTensorBytes(t, back.tensors.at(name));
    }
    CHECK(back.tensors.at(embed).dtype() == DType::F16);
    CHECK(back.tensors.at(norm).dtype() == DType::BF16);
    const PackFile pack = PackFile::open(dir / "m.slmc");
    for (const PackTensor& t : pack.tensors())
      if (t.name == norm) CHECK(std::string(weightTypeTraits(t.storage).storage_name) == "bfloat16");
  }
}

TEST_CASE("pack: quantized models give back the same codes, scales, zeros and activation quantizers") {
  for (const std::string arch : {"llama", "gpt2"}) {
    CAPTURE(arch);
    const Model m = quantizedModel(arch);
    ScratchDir dir("pack-quant-" + arch);
    writePack(m, dir / "m.slmc", testProvenance());
    const Model back = loadPackAsModel(dir / "m.slmc");
    validateModel(back);
    REQUIRE(back.quantized.size() == m.quantized.size());
    for (const auto& [name, q] : m.quantized) {
      CAPTURE(name);
      const QuantizedTensor& b = *back.quantized.at(name);
      CHECK(b.scheme == q->scheme);
      CHECK(b.rows == q->rows);
      CHECK(b.cols == q->cols);
      CHECK(b.codes == q->codes);
      CHECK(b.scales == q->scales);
      CHECK(b.zeros == q->zeros);
    }
    CHECK(back.activation_quant == m.activation_quant);
    REQUIRE(back.tensors.size() == m.tensors.size());
    for (const auto& [name, t] : m.tensors) {
      CAPTURE(name);
      checkSameTensorBytes(t, back.tensors.at(name));  // dequantized weights included
    }

    // The blocks are the runtime layout, usable in place: bit_packing.h codes and zeros, F16 scales.
    const PackFile pack = PackFile::open(dir / "m.slmc");
    pack.verify();
    int quantized = 0;
    for (const PackTensor& t : pack.tensors()) {
      CAPTURE(t.name);
      CHECK(reinterpret_cast<uintptr_t>(t.quantized() ? t.codes.data : t.data.data) % pack::kAlignment == 0);
      if (!t.quantized()) continue;
      ++quantized;
      const QuantizedTensor& q = *m.quantized.at(t.name);
      CHECK(t.scheme == q.scheme);
      CHECK(t.storage == integerType(q.scheme.bits()));
      const std::vector<uint8_t> codes = packCodes(q.codes.data(), q.rows, q.cols, q.scheme.bits());
      REQUIRE(t.codes.bytes == codes.size());
      CHECK(std::memcmp(t.codes.data, codes.data(), codes.size()) == 0);
      REQUIRE(t.scales.bytes == q.scales.size() * 2);
      uint16_t first;
      std::memcpy(&first, t.scales.data, 2);
      CHECK(halfToFloat(first) == q.scales[0]);
      CHECK(t.zeros.empty() == q.scheme.symmetric);
      if (!q.scheme.symmetric) {
        const std::vector<uint8_t> zeros = packCodes(q.zeros.data(), q.rows, q.groups(), q.scheme.bits());
        REQUIRE(t.zeros.bytes == zeros.size());
        CHECK(std::memcmp(t.zeros.data, zeros.data(), zeros.size()) == 0);
      }
    }
    CHECK(quantized == static_cast<int>(m.quantized.size()));
  }
}

TEST_CASE("pack: float tensors view the mapping (no copy), metadata carries provenance and tokenizer") {
  const Model m = randomModel(tinyConfig("llama"), 5);
  ScratchDir dir("pack-views");
  const std::string tok = readFile(fixture("tokenizers/llama2/tokenizer.json"));
  writePack(m, dir / "m.slmc", {"src/dir", "ab12", "prune(sparsity=0.5)", "9.9"}, {{"tokenizer.json", tok}});
  const PackFile pack = PackFile::open(dir / "m.slmc");
  const Model view = packToModel(pack);
  for (const PackTensor& t : pack.tensors()) CHECK(view.tensors.at(t.name).bytes() == t.data.data);
  CHECK(pack.provenance().source == "src/dir");
  CHECK(pack.provenance().source_sha256 == "ab12");
  CHECK(pack.provenance().recipe == "prune(sparsity=0.5)");
  CHECK(pack.provenance().slmc_version == "9.9");
  REQUIRE(pack.tokenizerFiles().size() == 1);
  CHECK(pack.tokenizerFiles()[0].name == "tokenizer.json");
  CHECK(pack.tokenizerFiles()[0].bytes == tok);
  CHECK(pack.metadata()["config"]["hidden_size"] == 32);
  // Blocks are laid out in table order, 64-byte aligned, after the metadata.
  uint64_t end = pack::kAlignment;
  for (const PackBlock& b : pack.blocks()) {
    CHECK(b.offset % pack::kAlignment == 0);
    CHECK(b.offset >= end);
    end = b.offset + b.bytes;
  }
  CHECK(end == pack.fileBytes());
  // A pack re-exported from a pack carries the same tokenizer.
  const std::vector<EmbeddedFile> again = tokenizerFilesFor(loadModel(dir / "m.slmc"));
  REQUIRE(again.size() == 1);
  CHECK(again[0].bytes == tok);
}

TEST_CASE("pack: the same model gives byte-identical files") {
  const Model m = quantizedModel("llama");
  const std::string a = packBytesOf(m), b = packBytesOf(m);
  CHECK(a == b);
  // Loading a pack and packing it again gives the same bytes too.
  ScratchDir dir("pack-determinism");
  writeFile(dir / "a.slmc", a);
  Model back = loadModel(dir / "a.slmc");
  writePack(back, dir / "b.slmc", testProvenance());
  CHECK(readFile(dir / "b.slmc") == a);
}

TEST_CASE("pack: stories260K float pack gives the .bin's logits exactly (real weights)") {
  setComputeThreads(1);
  const Model bin = loadModel(stories260K());
  ScratchDir dir("pack-stories");
  writePack(bin, dir / "s.slmc", {bin.source, "", "", "test"});
  const Model packed = loadModel(dir / "s.slmc");
  const auto golden = readJson(fixture("reference/stories260K_logits.json"));
  std::vector<int32_t> ids;
  for (const auto& row : golden["ids"])
    for (const auto& id : row) ids.push_back(id.get<int32_t>());
  const int64_t batch = golden["shape"][0], seq = golden["shape"][1];
  const Tensor a = ReferenceModel(bin).logits(ids, batch, seq);
  const Tensor b = ReferenceModel(packed).logits(ids, batch, seq);
  REQUIRE(a.nbytes() == b.nbytes());
  CHECK(std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0);
  const auto pack_bytes = fs::file_size(dir / "s.slmc"), bin_bytes = fs::file_size(stories260K());
  MESSAGE("stories260K: .bin " << bin_bytes << " bytes, float pack " << pack_bytes << " bytes");
  CHECK(pack_bytes < bin_bytes + 16 * 1024);  // header + metadata + alignment only
}

TEST_CASE("pack: reader rejects wrong magic, unknown version, truncation and damaged headers") {
  const std::string good = packBytesOf(quantizedModel("llama"));
  REQUIRE(openError(good) == "no error");

  std::string bad = good;
  bad[0] = 'X';
  checkError(openError(bad), "not a .slmc pack (starts with \"XLMCPACK\"");
  checkError(openError(std::string("GGUF\x03\0\0\0", 8)), "not a .slmc pack");

  bad = good;
  pack::Header h = headerOf(bad);
  h.version = 99;
  setHeader(bad, h);
  checkError(openError(bad), "pack format version 99 is not supported (this slmc reads version 1");

  const pack::Header gh = headerOf(good);
  for (size_t cut : {size_t{0}, size_t{5}, size_t{40}, size_t{64}, size_t{64 + 30}, size_t(gh.metadata_offset + 10),
                     good.size() / 2, good.size() - 1}) {
    CAPTURE(cut);
    const std::string err = openError(good.substr(0, cut));
    CHECK_MESSAGE((err.find("truncated") != std::string::npos || err.find("too short") != std::string::npos), err);
    checkError(err, "t.slmc");
  }
  checkError(openError(good + std::string(3, '\0')), "3 unexpected bytes after the end of the pack");

  bad = good;
  bad[20] ^= 1;  // file_bytes, without fixing the header checksum
  checkError(openError(bad), "header checksum mismatch");
  bad = good;
  bad[gh.metadata_offset + 3] ^= 0x20;
  checkError(openError(bad), "metadata checksum mismatch");
  bad = good;
  bad[sizeof(pack::Header) + 1] ^= 1;
  checkError(openError(bad), "block table checksum mismatch");
  bad = good;
  h = headerOf(bad);
  h.block_count = 1u << 30;
  setHeader(bad, h);
  reseal(bad);
  checkError(openError(bad), "block table of 1073741824 entries runs past the end of the file");
}

TEST_CASE("pack: reader rejects block offsets outside the file, misaligned or overlapping, naming the tensor") {
  const std::string good = packBytesOf(randomModel(tinyConfig("llama"), 2));
  const PackFile pack = PackFile::fromBytes(good);
  const std::string first = pack.tensors()[0].name;  // block 0

  std::string bad = good;
  pack::BlockEntry e = entryOf(bad, 0);
  e.offset = pack::alignUp(good.size());
  setEntry(bad, 0, e);
  reseal(bad);
  checkError(openError(bad), "block 0 (tensor '" + first + "') at offset");
  checkError(openError(bad), "ends past the end of the " + std::to_string(good.size()) + "-byte file");

  bad = good;
  e = entryOf(bad, 2);
  e.bytes = ~uint64_t{0} - 10;  // offset + bytes overflows
  setEntry(bad, 2, e);
  reseal(bad);
  checkError(openError(bad), "ends past the end");

  bad = good;
  e = entryOf(bad, 1);
  e.offset += 8;
  setEntry(bad, 1, e);
  reseal(bad);
  checkError(openError(bad), "block 1 (tensor '" + pack.tensors()[1].name + "') offset " + std::to_string(e.offset) +
                                 " is not 64-byte aligned");

  bad = good;
  e = entryOf(bad, 3);
  e.offset = entryOf(bad, 2).offset;
  setEntry(bad, 3, e);
  reseal(bad);
  checkError(openError(bad), "block 3 (tensor '" + pack.tensors()[3].name + "')");
  checkError(openError(bad), "overlaps the metadata or the block before it");

  bad = good;
  e = entryOf(bad, 0);
  e.offset = 0;  // on top of the header
  setEntry(bad, 0, e);
  reseal(bad);
  checkError(openError(bad), "overlaps the metadata");
}

TEST_CASE("pack: a flipped byte in a block is a checksum error naming the tensor") {
  const Model m = quantizedModel("llama");
  const std::string good = packBytesOf(m);
  const PackFile pack = PackFile::fromBytes(good);
  // The codes block of the first quantized tensor.
  size_t index = 0;
  std::string name;
  for (size_t i = 0; i < pack.blocks().size() && name.empty(); ++i)
    if (pack.blocks()[i].what.find(" codes") != std::string::npos) {
      index = i;
      name = pack.blocks()[i].what;
    }
  REQUIRE(!name.empty());
  std::string bad = good;
  bad[pack.blocks()[index].offset + 5] ^= 0x10;
  const PackFile damaged = PackFile::fromBytes(bad, "t.slmc");  // structure is intact
  checkError(errorOf([&] { damaged.verify(); }),
             "checksum mismatch in block " + std::to_string(index) + " (" + name + ")");
  CHECK_NOTHROW(pack.verify());

  ScratchDir dir("pack-flip");
  writeFile(dir / "bad.slmc", bad);
  checkError(errorOf([&] { loadModel(dir / "bad.slmc"); }), "(" + name + ") at offset");
}

TEST_CASE("pack: reader rejects metadata that contradicts the blocks") {
  const Model m = quantizedModel("llama");
  const std::string good = packBytesOf(m, {{"tokenizer.json", "{}"}});
  const PackFile pack = PackFile::fromBytes(good);
  const json meta = pack.metadata();
  REQUIRE(openError(withMetadata(pack, meta)) == "no error");
  CHECK(withMetadata(pack, meta) == good);

  const auto tensorIndex = [&](bool quantized) {
    for (size_t i = 0; i < pack.tensors().size(); ++i)
      if (pack.tensors()[i].quantized() == quantized) return i;
    FAIL("no such tensor");
    return size_t{0};
  };
  const size_t f = tensorIndex(false), q = tensorIndex(true);
  const std::string fname = pack.tensors()[f].name, qname = pack.tensors()[q].name;

  json bad = meta;
  bad["tensors"][f]["shape"][0] = bad["tensors"][f]["shape"][0].get<int64_t>() + 1;
  checkError(openError(withMetadata(pack, bad)), "says tensor '" + fname + "' is float32");
  checkError(openError(withMetadata(pack, bad)), "but its block holds");

  bad = meta;
  bad["tensors"][f]["storage"] = "float16";
  checkError(openError(withMetadata(pack, bad)), "metadata contradicts the data");

  bad = meta;
  bad["tensors"][q]["shape"][1] = bad["tensors"][q]["shape"][1].get<int64_t>() * 2;
  checkError(openError(withMetadata(pack, bad)), "says tensor '" + qname + "' is");

  bad = meta;
  bad["tensors"][q]["storage"] = pack.tensors()[q].scheme.bits() == 8 ? "int4" : "int8";
  checkError(openError(withMetadata(pack, bad)), "bytes of codes, but its block holds");

  bad = meta;
  bad["tensors"][q]["group_size"] = 5;
  checkError(openError(withMetadata(pack, bad)), "group_size 5 does not divide");

  bad = meta;
  bad["tensors"][f]["storage"] = "int7";
  checkError(openError(withMetadata(pack, bad)), "storage \"int7\", which this slmc does not know");

  bad = meta;
  REQUIRE(!pack.tensors()[f + 1].quantized());
  bad["tensors"][f + 1]["block"] = bad["tensors"][f]["block"];
  checkError(openError(withMetadata(pack, bad)), "is claimed twice");

  bad = meta;
  bad["tensors"][f]["block"] = 100000;
  checkError(openError(withMetadata(pack, bad)), "but the table has");

  bad = meta;
  bad["tokenizer"] = json::array();
  checkError(openError(withMetadata(pack, bad)), "is not referenced by the metadata");

  bad = meta;
  bad["tensors"][f]["name"] = bad["tensors"][f + 1]["name"];
  checkError(openError(withMetadata(pack, bad)), "twice");

  bad = meta;
  bad["config"]["hidden_size"] = "big";
  checkError(openError(withMetadata(pack, bad)), "\"hidden_size\" has the wrong type");

  bad = meta;
  bad["config"]["num_hidden_layers"] = 1 << 20;
  checkError(openError(withMetadata(pack, bad)), "config has 1048576 layers but the pack holds only");

  bad = meta;
  bad["config"]["vocab_size"] = int64_t{1} << 30;
  checkError(openError(withMetadata(pack, bad)), "vocab_size 1073741824 is implausibly large");

  bad = meta;
  bad.erase("provenance");
  checkError(openError(withMetadata(pack, bad)), "metadata has no \"provenance\"");

  bad = meta;
  bad["activation_quant"]["nope.weight"] = {{"bits", 8}, {"dynamic", true}, {"scale", 0}};
  checkError(openError(withMetadata(pack, bad)), "names no tensor of the pack");

  bad = meta;
  bad["format"] = "gguf";
  checkError(openError(withMetadata(pack, bad)), "format \"gguf\" is not \"slmc-pack\"");

  // Metadata that is not JSON at all, with valid checksums.
  std::string text = good;
  const pack::Header h = headerOf(text);
  text[h.metadata_offset] = '[';
  reseal(text);
  checkError(openError(text), "metadata is not valid JSON");

  // A pack whose tensors do not match its config is refused on open, for every command.
  bad = meta;
  bad["config"]["vocab_size"] = 65;
  ScratchDir dir("pack-config");
  writeFile(dir / "c.slmc", withMetadata(pack, bad));
  checkError(errorOf([&] { loadModel(dir / "c.slmc"); }),
             "config implies tensor 'model.embed_tokens.weight' of shape [65, 32] (config: 2 layers, hidden 32) but "
             "the pack holds [64, 32]");
}

TEST_CASE("pack: writer refuses what it cannot store and leaves no file") {
  ScratchDir dir("pack-writer-errors");
  Model m = randomModel(tinyConfig("llama"), 1);
  std::vector<float> nan(static_cast<size_t>(m.tensors.at(names::kEmbedTokens).numel()), 0.0f);
  nan[3] = std::nanf("");
  Model broken = m;
  broken.tensors.set(names::kEmbedTokens, Tensor::fromFloats(m.tensors.at(names::kEmbedTokens).shape(), nan));
  checkError(errorOf([&] { writePack(broken, dir / "n.slmc", testProvenance()); }), "NaN");
  checkError(errorOf([&] { writePack(m, dir.path(), testProvenance()); }), "is a directory");
  checkError(errorOf([&] { writePack(m, dir / "t.slmc", testProvenance(), {{"a/b", "x"}}); }), "unique base name");
  checkError(errorOf([&] { writePack(m, dir / "missing/x.slmc", testProvenance()); }), "cannot write");
  CHECK(dir.entries() == 0);
}

TEST_CASE("cli export --format pack / verify: end to end, inferred from .slmc, every command reads the pack") {
  ScratchDir dir("cli-pack");
  const std::string model = fixture("reference/tiny-llama-bf16");
  // 71 SentencePiece-style pieces (llama2's pipeline, no merges): it fits the model's 96 ids.
  const std::string tok = fixture("tokenizers/tiny-sp/tokenizer.json");
  CommandResult r = runSlmc("export " + model + " -o " + dir / "m.slmc" + " --tokenizer " + tok);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("slmc pack v1") != std::string::npos);
  CHECK(r.out.find("tokenizer: tokenizer.json") != std::string::npos);

  r = runSlmc("verify " + dir / "m.slmc" + " --json " + dir / "v.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("checksums OK") != std::string::npos);
  CHECK(r.out.find("LlamaForCausalLM") != std::string::npos);
  const json v = readJson(dir / "v.json");
  CHECK(v["checksums_ok"] == true);
  CHECK(v["format_version"] == 1);
  CHECK(v["tokenizer"][0]["name"] == "tokenizer.json");
  // Provenance: the source directory and the sha256 of its config.json + model.safetensors manifest.
  CHECK(v["provenance"]["source"] == model);
  CHECK(v["provenance"]["source_sha256"].get<std::string>().size() == 64);
  CHECK(v["tensor_kinds"]["bfloat16"].get<int>() == v["tensors"].get<int>());  // bf16 stays bf16

  // --format pack with any name; the same model twice gives the same bytes.
  r = runSlmc("-q export " + model + " --format pack -o " + dir / "m2.pack" + " --tokenizer " + tok);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(readFile(dir / "m2.pack") == readFile(dir / "m.slmc"));

  // inspect, eval and export back to Hugging Face read the pack.
  r = runSlmc("inspect " + dir / "m.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::string ids;
  for (int i = 0; i < 40; ++i) ids += std::to_string((i * 37 + 5) % 96) + "\n";
  writeFile(dir / "ids.txt", ids);
  r = runSlmc("-q eval " + dir / "m.slmc" + " --tokens " + dir / "ids.txt" + " --ctx 16");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  r = runSlmc("-q export " + dir / "m.slmc" + " -o " + dir / "hf");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(fs::exists(dir / "hf/model.safetensors"));

  // A pack of a pack keeps the embedded tokenizer.
  r = runSlmc("-q export " + dir / "m.slmc" + " -o " + dir / "again.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(PackFile::open(dir / "again.slmc").tokenizerFiles().size() == 1);
}

TEST_CASE("cli pack: quantized packs, and bad input exits 1 with one line and leaves no file") {
  ScratchDir dir("cli-pack-bad");
  CommandResult r = runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o " + dir / "q");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = runSlmc("-q export " + dir / "q" + " -o " + dir / "q.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = runSlmc("verify " + dir / "q.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("int4-g32-sym") != std::string::npos);
  // The recipe comes from the quantize run's report.
  CHECK(PackFile::open(dir / "q.slmc").provenance().recipe == "quantize(method=rtn,bits=4,group_size=32)");
  const auto q_bytes = fs::file_size(dir / "q.slmc"), bin_bytes = fs::file_size(stories260K());
  MESSAGE("stories260K int4-g32 pack " << q_bytes << " bytes vs .bin " << bin_bytes);
  CHECK(q_bytes * 2 < bin_bytes);
  // Every existing command treats it as the quantized model it is.
  expectError(runSlmc("-q quantize " + dir / "q.slmc" + " --method rtn -o " + dir / "again"), "needs float weights");
  CHECK_FALSE(fs::exists(dir / "again"));

  std::string bytes = readFile(dir / "q.slmc");
  const PackFile pack = PackFile::fromBytes(bytes);
  const PackBlock& last = pack.blocks().back();
  bytes[last.offset] ^= 1;
  writeFile(dir / "bad.slmc", bytes);
  r = runSlmc("verify " + dir / "bad.slmc" + " --json " + dir / "bad.json");
  expectError(r, "checksum mismatch in block " + std::to_string(pack.blocks().size() - 1) + " (" + last.what + ")");
  CHECK_FALSE(fs::exists(dir / "bad.json"));

  writeFile(dir / "trunc.slmc", readFile(dir / "q.slmc").substr(0, 1000));
  expectError(runSlmc("verify " + dir / "trunc.slmc"), "truncated: 1000 of");
  expectError(runSlmc("inspect " + dir / "trunc.slmc"), "truncated");
  writeFile(dir / "text.slmc", "hello, world");
  expectError(runSlmc("verify " + dir / "text.slmc"), "not a .slmc pack");
  expectError(runSlmc("eval " + dir / "text.slmc" + " --tokens x.txt"), "not a .slmc pack");

  const size_t before = dir.entries();
  expectError(runSlmc("-q export " + dir / "trunc.slmc" + " -o " + dir / "out.slmc"), "truncated");
  expectError(runSlmc("-q export " + stories260K() + " -o " + dir / "out.slmc --tokenizer " + dir / "nope.json"),
              "tokenizer file");
  expectError(runSlmc("-q export " + stories260K() + " --format hf -o " + dir / "out --tokenizer " + dir / "q.slmc"),
              "--tokenizer applies to --format pack and gguf only");
  CHECK(dir.entries() == before);
}

namespace {

// `bytes` with the block of tensor `name` (its data, or its scales) rewritten by `edit`, and its
// checksum and the table's recomputed: damage that only the value checks can see.
std::string withBlockEdited(const std::string& bytes, const std::string& what,
                            const std::function<void(char*, size_t)>& edit) {
  std::string out = bytes;
  const PackFile pack = PackFile::fromBytes(bytes);
  for (size_t i = 0; i < pack.blocks().size(); ++i) {
    if (pack.blocks()[i].what != what) continue;
    pack::BlockEntry e = entryOf(out, i);
    edit(out.data() + e.offset, e.bytes);
    e.crc32 = crc32c(out.data() + e.offset, e.bytes);
    setEntry(out, i, e);
    reseal(out);
    return out;
  }
  FAIL("no block " << what);
  return out;
}

}  // namespace

TEST_CASE("pack: NaN/Inf weights or bad scales under valid checksums are refused by the one reader") {
  const Model m = quantizedModel("llama");
  const std::string good = packBytesOf(m);
  const std::string fname = names::kEmbedTokens;
  const std::string nan = withBlockEdited(good, "tensor '" + fname + "'", [](char* p, size_t) {
    const float v = std::numeric_limits<float>::infinity();
    std::memcpy(p + 4 * 7, &v, 4);
  });
  const PackFile structure = PackFile::fromBytes(nan, "t.slmc");  // the structure is intact
  checkError(errorOf([&] { structure.verify(); }), "t.slmc: tensor '" + fname + "' holds NaN or Inf (element 7)");

  std::string qname;
  const PackFile good_pack = PackFile::fromBytes(good);
  for (const PackTensor& t : good_pack.tensors())
    if (t.quantized() && qname.empty()) qname = t.name;
  // NaN, +0, -0, +Inf; a negative scale (-1) is legal (the signed-extreme grid).
  for (const uint16_t bad : {uint16_t{0x7e00}, uint16_t{0}, uint16_t{0x8000}, uint16_t{0x7c00}}) {
    const std::string scales = withBlockEdited(good, "tensor '" + qname + "' scales",
                                               [&](char* p, size_t) { std::memcpy(p + 2 * 3, &bad, 2); });
    checkError(errorOf([&] { PackFile::fromBytes(scales, "t.slmc").verify(); }),
               "tensor '" + qname + "' has scale 3 that is zero, NaN or Inf");
  }
  const uint16_t minus_one = 0xbc00;
  CHECK_NOTHROW(PackFile::fromBytes(withBlockEdited(good, "tensor '" + qname + "' scales",
                                                    [&](char* p, size_t) { std::memcpy(p + 2 * 3, &minus_one, 2); }))
                    .verify());
  CHECK_NOTHROW(PackFile::fromBytes(good).verify());

  // Every command that reads the pack refuses it: the runtime's run, eval, validate and bench too.
  ScratchDir dir("pack-nan");
  writeFile(dir / "nan.slmc", nan);
  writeFile(dir / "ids.txt", "1\n2\n3\n4\n5\n");
  const std::string expected = "tensor '" + fname + "' holds NaN or Inf";
  expectError(runSlmc("verify " + dir / "nan.slmc"), expected);
  expectError(runSlmc("inspect " + dir / "nan.slmc"), expected);
  expectError(runSlmc("run " + dir / "nan.slmc" + " --prompt-ids 1,2 -n 2"), expected);
  expectError(runSlmc("eval " + dir / "nan.slmc" + " --tokens " + dir / "ids.txt" + " --ctx 4"), expected);
  expectError(runSlmc("bench " + dir / "nan.slmc" + " -n 1 --prompt 1 --no-bandwidth"), expected);
  expectError(runSlmc("validate " + dir / "nan.slmc" + " --reference " + dir / "nan.slmc" + " --tokens " +
                      dir / "ids.txt" + " --ctx 4"),
              expected);
}

TEST_CASE("pack: metadata contradicting the blocks (layer count, a false 2:4 claim) is refused for every command") {
  const Model m = quantizedModel("llama");
  const std::string good = packBytesOf(m);
  const PackFile pack = PackFile::fromBytes(good);
  const json meta = pack.metadata();

  json bad = meta;
  bad["config"]["num_hidden_layers"] = 1;  // the blocks hold two layers
  checkError(openError(withMetadata(pack, bad)),
             "lists tensor 'model.layers.1.input_layernorm.weight', which its config (config: 1 layers, hidden 32) "
             "does not describe");
  bad["config"]["num_hidden_layers"] = 3;
  checkError(openError(withMetadata(pack, bad)),
             "config implies tensor 'model.layers.2.input_layernorm.weight' (config: 3 layers, hidden 32), which the "
             "pack does not hold");

  // A 2:4 claim on a dense float weight: the pack opens (the structure is sound), verify refuses it.
  const Model dense = randomModel(tinyConfig("llama"), 3);
  const std::string dense_bytes = packBytesOf(dense);
  const PackFile dense_pack = PackFile::fromBytes(dense_bytes);
  bad = dense_pack.metadata();
  const std::string w = names::layer(0, "mlp.up_proj.weight");
  bad["sparsity"] = {{"format", "slmc"},
                     {"version", 1},
                     {"weights", {{w, {{"pattern", "2:4"}, {"target", 0.5}, {"method", "wanda"}}}}}};
  const std::string claim = withMetadata(dense_pack, bad);
  checkError(errorOf([&] { PackFile::fromBytes(claim, "t.slmc").verify(); }), "'" + w + "' is recorded as 2:4 sparse");
  ScratchDir dir("pack-claim");
  writeFile(dir / "claim.slmc", claim);
  expectError(runSlmc("run " + dir / "claim.slmc" + " --prompt-ids 1,2 -n 2"), "is recorded as 2:4 sparse");
}

TEST_CASE("cli pack: a tokenizer that does not load, or is larger than the vocabulary, is refused at export") {
  ScratchDir dir("pack-tok");
  const std::string model = fixture("reference/tiny-llama-bf16");
  writeFile(dir / "notes.txt", "just some text\n");
  writeFile(dir / "broken.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
  expectError(runSlmc("-q export " + model + " -o " + dir / "a.slmc --tokenizer " + dir / "broken.json"),
              "cannot pack tokenizer '" + dir / "broken.json" + "': it does not load as a tokenizer");
  expectError(runSlmc("-q export " + model + " -o " + dir / "a.slmc --tokenizer " + dir / "notes.txt"),
              "cannot pack tokenizer '" + dir / "notes.txt" + "'");
  // 32,000 tokens for a 96-token model.
  expectError(runSlmc("-q export " + model + " -o " + dir / "a.slmc --tokenizer " +
                      fixture("tokenizers/llama2/tokenizer.json")),
              "has 32000 tokens but the model's vocabulary is 96");
  CHECK(dir.entries() == 2);
}

TEST_CASE("cli pack: run on an empty or damaged .slmc names the damage, not an export of it") {
  ScratchDir dir("pack-empty");
  writeFile(dir / "empty.slmc", "");
  writeFile(dir / "junk.slmc", "not a pack, just text of some length");
  expectError(runSlmc("run " + dir / "empty.slmc" + " --prompt-ids 1"), "0 bytes is too short to be a .slmc pack");
  expectError(runSlmc("bench " + dir / "junk.slmc"), "not a .slmc pack (starts with");
  CHECK(runSlmc("run " + dir / "junk.slmc" + " --prompt-ids 1").err.find("slmc export " + dir / "junk.slmc") ==
        std::string::npos);
  expectError(runSlmc("run " + dir / "junk.slmc" + " --prompt-ids \"\""), "--prompt-ids is empty");
}

TEST_CASE("cli pack: inspect of a quantized directory or pack reports the bytes stored, not the float size") {
  ScratchDir dir("pack-inspect");
  REQUIRE(runSlmc("-q quantize " + stories260K() + " --method rtn --bits 4 --group-size 32 -o " + dir / "q").exit_code ==
          0);
  REQUIRE(runSlmc("-q export " + dir / "q" + " -o " + dir / "q.slmc").exit_code == 0);
  for (const std::string& model : {dir / "q", dir / "q.slmc"}) {
    const CommandResult r = runSlmc("inspect " + model);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK_MESSAGE(r.out.find(" bytes stored, ") != std::string::npos, r.out);
    CHECK(r.out.find("35 quantized tensors") != std::string::npos);
    const json j = json::parse(runSlmc("inspect --json " + model).out);
    // 4-bit codes + float16 scales per 32 + the float embedding and norms: far below float32.
    CHECK(j["stored_bytes"].get<int64_t>() * 2 < j["total_bytes"].get<int64_t>());
    CHECK(j["quantized_tensors"] == 35);
  }
}
