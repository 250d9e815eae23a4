#include "lib/format/pack_writer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_tokenizer.h"
#include "lib/format/pack_format.h"
#include "lib/format/pack_reader.h"
#include "lib/model/bit_packing.h"
#include "lib/model/model_config.h"
#include "lib/model/sparsity_record.h"
#include "lib/support/atomic_file.h"
#include "lib/support/crc32.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The tokenizer files of a Hugging Face directory that a pack carries.
const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                       "special_tokens_map.json"};

// The blocks of a model, each owning (or viewing a tensor that owns) its bytes, and the metadata.
struct PackPlan {
  std::vector<std::shared_ptr<const void>> storage;  // keeps converted/packed bytes alive
  std::vector<Tensor> views;                         // keeps viewed tensors alive
  std::vector<PackBlockRef> blocks;
  json metadata;
};

int addBlock(PackPlan& plan, const void* data, size_t bytes) {
  plan.blocks.push_back({data, bytes});
  return static_cast<int>(plan.blocks.size() - 1);
}

template <typename T>
int addOwnedBlock(PackPlan& plan, std::vector<T> values) {
  auto owned = std::make_shared<std::vector<T>>(std::move(values));
  plan.storage.push_back(owned);
  return addBlock(plan, owned->data(), owned->size() * sizeof(T));
}

json floatTensorEntry(PackPlan& plan, const std::string& name, const Tensor& tensor) {
  // Every float dtype keeps its bytes; the writer never rounds.
  const std::optional<pack::Storage> storage = pack::floatStorage(tensor.dtype());
  require(storage.has_value(), "tensor '" + name + "' has dtype " + dtypeName(tensor.dtype()) +
                                   ", which the pack format does not store (float32, float16 or bfloat16)");
  plan.views.push_back(tensor);
  return {{"name", name},
          {"shape", tensor.shape()},
          {"storage", weightTypeTraits(*storage).storage_name},
          {"block", addBlock(plan, tensor.bytes(), tensor.nbytes())}};
}

json quantizedTensorEntry(PackPlan& plan, const std::string& name, const QuantizedTensor& q) {
  q.validate(name);
  const QuantScheme& s = q.scheme;
  const WeightTypeTraits& storage = weightTypeTraits(s.type);  // an integer grid: QuantScheme checks it
  const int64_t groups = q.groups();
  std::vector<uint16_t> scales(q.scales.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = floatToHalf(q.scales[i]);
    require(halfToFloat(scales[i]) == q.scales[i],
            "internal: scale of quantized tensor '" + name + "' is not a float16 value (quantize it again)");
  }
  json blocks = {{"codes", addOwnedBlock(plan, packCodes(q.codes.data(), q.rows, q.cols, s.bits()))},
                 {"scales", addOwnedBlock(plan, std::move(scales))}};
  if (!s.symmetric) blocks["zeros"] = addOwnedBlock(plan, packCodes(q.zeros.data(), q.rows, groups, s.bits()));
  return {{"name", name},         {"shape", {q.rows, q.cols}}, {"storage", storage.storage_name},
          {"group_size", s.group_size}, {"symmetric", s.symmetric}, {"blocks", blocks}};
}

PackPlan planPack(const Model& model, const PackProvenance& provenance, const std::vector<EmbeddedFile>& tokenizer) {
  PackPlan plan;
  json tensors = json::array();
  for (const auto& [name, tensor] : model.tensors) {
    auto q = model.quantized.find(name);
    if (q != model.quantized.end())
      require(tensor.shape() == Shape{q->second->rows, q->second->cols},
              "quantized tensor '" + name + "' does not match the shape of its float tensor (internal)");
    tensors.push_back(q == model.quantized.end() ? floatTensorEntry(plan, name, tensor)
                                                 : quantizedTensorEntry(plan, name, *q->second));
  }
  for (const auto& [name, q] : model.quantized)
    require(model.tensors.contains(name), "quantized tensor '" + name + "' is not a tensor of the model (internal)");

  json activations = json::object();
  for (const auto& [name, a] : model.activation_quant) {
    require(model.tensors.contains(name), "activation quantizer for '" + name + "', which is not a tensor of the model");
    require(std::isfinite(a.scale), "activation quantizer of '" + name + "' has a non-finite scale");
    activations[name] = {{"bits", a.bits}, {"dynamic", a.dynamic}, {"scale", a.scale}};
  }

  json files = json::array();
  std::set<std::string> seen;
  for (const EmbeddedFile& f : tokenizer) {
    require(!f.name.empty() && f.name.find('/') == std::string::npos && seen.insert(f.name).second,
            "tokenizer file name '" + f.name + "' must be a unique base name");
    files.push_back({{"name", f.name}, {"block", addBlock(plan, f.bytes.data(), f.bytes.size())}});
  }

  plan.metadata = {{"format", pack::kFormatName},
                   {"config", json::parse(hfConfigJson(model.config))},
                   {"tensors", tensors},
                   {"activation_quant", activations},
                   {"tokenizer", files},
                   {"provenance",
                    {{"source", provenance.source},
                     {"source_sha256", provenance.source_sha256},
                     {"recipe", provenance.recipe},
                     {"slmc_version", provenance.slmc_version}}}};
  if (!model.sparsity.empty()) plan.metadata["sparsity"] = sparsityRecord(model);
  return plan;
}

void writeZeros(const std::function<void(const void*, size_t)>& sink, uint64_t n) {
  static const char zeros[pack::kAlignment] = {};
  sink(zeros, static_cast<size_t>(n));
}

}  // namespace

void emitPack(const std::string& metadata_text, const std::vector<PackBlockRef>& blocks,
              const std::function<void(const void*, size_t)>& sink) {
  require(blocks.size() <= UINT32_MAX, "too many blocks for one pack");
  std::vector<pack::BlockEntry> table(blocks.size());
  const uint64_t metadata_offset = sizeof(pack::Header) + table.size() * sizeof(pack::BlockEntry);
  uint64_t end = metadata_offset + metadata_text.size();
  for (size_t i = 0; i < blocks.size(); ++i) {
    table[i].offset = pack::alignUp(end);
    table[i].bytes = blocks[i].bytes;
    table[i].crc32 = crc32c(blocks[i].data, blocks[i].bytes);
    table[i].reserved = 0;
    end = table[i].offset + table[i].bytes;
  }
  pack::Header h{};
  std::memcpy(h.magic, pack::kMagic, sizeof h.magic);
  h.version = pack::kFormatVersion;
  h.header_bytes = sizeof(pack::Header);
  h.file_bytes = end;
  h.table_offset = sizeof(pack::Header);
  h.block_count = static_cast<uint32_t>(table.size());
  h.table_crc32 = crc32c(table.data(), table.size() * sizeof(pack::BlockEntry));
  h.metadata_offset = metadata_offset;
  h.metadata_bytes = metadata_text.size();
  h.metadata_crc32 = crc32c(metadata_text.data(), metadata_text.size());
  h.header_crc32 = crc32c(&h, pack::kHeaderCrcBytes);

  sink(&h, sizeof h);
  sink(table.data(), table.size() * sizeof(pack::BlockEntry));
  sink(metadata_text.data(), metadata_text.size());
  uint64_t at = metadata_offset + metadata_text.size();
  for (size_t i = 0; i < blocks.size(); ++i) {
    writeZeros(sink, table[i].offset - at);
    sink(blocks[i].data, blocks[i].bytes);
    at = table[i].offset + table[i].bytes;
  }
}

void writePack(const Model& model, const std::string& path, const PackProvenance& provenance,
               const std::vector<EmbeddedFile>& tokenizer) {
  std::error_code ec;
  require(!fs::is_directory(path, ec), "'" + path + "' is a directory (name the pack file, e.g. model.slmc)");
  validateModel(model);
  const PackPlan plan = planPack(model, provenance, tokenizer);
  AtomicFile out(path);
  emitPack(plan.metadata.dump(), plan.blocks, [&](const void* data, size_t n) { out.write(data, n); });
  out.commit();
}

std::vector<std::string> checkpointFiles(const std::string& source) {
  std::error_code ec;
  if (source.empty() || !fs::exists(source, ec)) return {};
  if (!fs::is_directory(source, ec)) return {source};
  std::vector<std::string> files = {source + "/config.json"};
  if (fs::is_regular_file(source + "/model.safetensors", ec)) {
    files.push_back(source + "/model.safetensors");
  } else if (fs::is_regular_file(source + "/model.safetensors.index.json", ec)) {
    const std::string index = source + "/model.safetensors.index.json";
    files.push_back(index);
    std::set<std::string> shards;
    try {
      for (const auto& [tensor, shard] : json::parse(readTextFile(index)).at("weight_map").items())
        shards.insert(shard.get<std::string>());
    } catch (const json::exception& e) {
      throw Error("'" + index + "' is not a valid safetensors index (" + e.what() + ")");
    }
    for (const std::string& shard : shards) files.push_back(source + "/" + shard);
  }
  return files;
}

std::vector<EmbeddedFile> tokenizerFilesFor(const Model& model, const std::string& override_path) {
  std::vector<EmbeddedFile> files;
  std::error_code ec;
  if (!override_path.empty()) {
    require(fs::is_regular_file(override_path, ec),
            "tokenizer file '" + override_path + "' does not exist (pass tokenizer.json, tokenizer.model or tokenizer.bin)");
    files.push_back({fs::path(override_path).filename().string(), readTextFile(override_path)});
  } else if (!model.source.empty() && fs::is_regular_file(model.source, ec) && gguf::looksLikeGguf(model.source)) {
    for (auto& [name, text] : gguf::hfTokenizerFilesOf(model.source).named())  // its vocabulary as HF files
      files.push_back({name, std::move(text)});
  } else if (!model.source.empty() && fs::is_directory(model.source, ec)) {
    for (const char* name : kTokenizerFiles)
      if (fs::is_regular_file(model.source + "/" + name, ec))
        files.push_back({name, readTextFile(model.source + "/" + name)});
  } else if (!model.source.empty() && looksLikePack(model.source)) {
    const PackFile source = PackFile::open(model.source);
    for (const PackEmbeddedFile& f : source.tokenizerFiles()) files.push_back({f.name, std::string(f.bytes)});
  }
  return files;
}

}  // namespace slmc
