#include "lib/format/pack_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "lib/model/bit_packing.h"
#include "lib/model/model_config.h"
#include "lib/model/sparsity_record.h"
#include "lib/support/crc32.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc {

using nlohmann::json;

namespace {

constexpr const char* kReexport = "export the pack again";

// The first bytes of a file, printable ASCII kept and the rest as \xNN.
std::string printableBytes(const std::byte* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      s += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      s += "\\x";
      s += hex[c >> 4];
      s += hex[c & 15];
    }
  }
  return s;
}

std::string str(uint64_t v) { return std::to_string(v); }

// JSON accessors that name the metadata path in their error (json::exception never escapes).
const json& member(const json& j, const char* key, const std::string& where) {
  require(j.is_object(), where + " is not a JSON object");
  auto it = j.find(key);
  require(it != j.end(), where + " has no \"" + key + "\"");
  return *it;
}

int64_t integer(const json& j, const std::string& where) {
  require(j.is_number_integer(), where + " is not an integer");
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    require(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), where + " is out of range");
    return static_cast<int64_t>(u);
  }
  return j.get<int64_t>();
}

std::string string(const json& j, const std::string& where) {
  require(j.is_string(), where + " is not a string");
  return j.get<std::string>();
}

bool boolean(const json& j, const std::string& where) {
  require(j.is_boolean(), where + " is not true or false");
  return j.get<bool>();
}

// A config.json object as hfConfigJson writes it: flat, plain values, numbers in a range where
// every integer conversion and product the config code makes is defined.
void checkConfigValues(const json& config, const std::string& where) {
  require(config.is_object(), where + " is not a JSON object");
  constexpr uint64_t kLimit = uint64_t{1} << 40;
  const auto plain = [&](const json& v, const std::string& key) {
    require(!v.is_structured(), where + " \"" + key + "\" is nested (a pack config is flat)");
    if (v.is_number_float())
      require(std::isfinite(v.get<double>()) && std::abs(v.get<double>()) < 4.0e18,
              where + " \"" + key + "\" is not a finite number in range");
    if (v.is_number_integer())
      require(v.is_number_unsigned() ? v.get<uint64_t>() <= kLimit
                                     : v.get<int64_t>() >= -static_cast<int64_t>(kLimit) &&
                                           v.get<int64_t>() <= static_cast<int64_t>(kLimit),
              where + " \"" + key + "\" is out of range");
  };
  for (const auto& [key, value] : config.items()) {
    if (value.is_array()) {
      for (const json& v : value) plain(v, key);
    } else {
      plain(value, key);
    }
  }
}

// Index of the first NaN or ±Inf among `n` elements of a float dtype, or -1. Bit tests
// (exponent all ones) OR-ed over chunks so the scan vectorises: it runs on every open of a pack
// for the runtime, and only a chunk that has one is searched element by element.
template <typename Bits, Bits kExponent>
int64_t firstNonFiniteBits(const std::byte* p, size_t n) {
  constexpr size_t kChunk = 4096;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t end = std::min(n, begin + kChunk);
    Bits bad = 0;
    for (size_t i = begin; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, p + i * sizeof(Bits), sizeof(Bits));
      bad |= static_cast<Bits>((bits & kExponent) == kExponent);
    }
    if (!bad) continue;
    for (size_t i = begin; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, p + i * sizeof(Bits), sizeof(Bits));
      if ((bits & kExponent) == kExponent) return static_cast<int64_t>(i);
    }
  }
  return -1;
}

int64_t firstNonFinite(DType dtype, const std::byte* p, size_t n) {
  switch (dtype) {
    case DType::F32: return firstNonFiniteBits<uint32_t, 0x7f800000u>(p, n);
    case DType::F16: return firstNonFiniteBits<uint16_t, 0x7c00>(p, n);
    case DType::BF16: return firstNonFiniteBits<uint16_t, 0x7f80>(p, n);
    default: return -1;
  }
}

// Index of the first float16 scale that is zero (either sign), NaN or Inf, or -1. Negative
// scales are legal: the symmetric grid's scale is the group's signed extreme / -2^(bits-1).
int64_t firstBadScale(const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    if ((h & 0x7c00) == 0x7c00 || (h & 0x7fff) == 0) return static_cast<int64_t>(i);
  }
  return -1;
}

// The weights of one pack tensor as the model holds them: a view of a float block, or the
// dequantized codes.
QuantizedTensor quantizedOf(const PackTensor& t) {
  QuantizedTensor q;
  q.scheme = t.scheme;
  q.rows = t.shape[0];
  q.cols = t.shape[1];
  const int bits = q.scheme.bits();
  q.codes = unpackCodes(reinterpret_cast<const uint8_t*>(t.codes.data), q.rows, q.cols, bits);
  const size_t groups = static_cast<size_t>(q.rows * q.groups());
  q.scales.resize(groups);
  for (size_t i = 0; i < groups; ++i) {
    uint16_t h;
    std::memcpy(&h, t.scales.data + 2 * i, 2);
    q.scales[i] = halfToFloat(h);
  }
  if (q.scheme.symmetric)
    q.zeros.assign(groups, static_cast<uint8_t>(1 << (bits - 1)));
  else
    q.zeros = unpackCodes(reinterpret_cast<const uint8_t*>(t.zeros.data), q.rows, q.groups(), bits);
  return q;
}

// NaN or Inf in a float tensor or a zero / non-finite scale: a pack whose checksums hold but whose
// numbers would make every command print "perplexity nan" or garbage text.
void checkValues(const PackFile& pack) {
  for (const PackTensor& t : pack.tensors()) {
    if (!t.quantized()) {
      const DType dtype = pack::storageDType(t.storage);
      const int64_t at = firstNonFinite(dtype, t.data.data, t.data.bytes / dtypeSize(dtype));
      require(at < 0, pack.origin() + ": tensor '" + t.name + "' holds NaN or Inf (element " + std::to_string(at) +
                          "): the model diverged or the pack was edited (" + kReexport + " from a sound model)");
    } else {
      const int64_t at = firstBadScale(t.scales.data, t.scales.bytes / 2);
      require(at < 0, pack.origin() + ": tensor '" + t.name + "' has scale " + std::to_string(at) +
                          " that is zero, NaN or Inf: the pack was edited "
                          "or damaged (" + kReexport + ")");
    }
  }
}

// A recorded N:M claim the weights break: the runtime would trust a false pattern. Checked one
// tensor at a time so a sparse quantized pack never holds more than one dequantized weight.
void checkSparsityClaims(const PackFile& pack) {
  const json& metadata = pack.metadata();
  const auto record = metadata.find("sparsity");
  if (record == metadata.end()) return;
  const auto weights = record->is_object() ? record->find("weights") : record->end();
  if (!record->is_object() || weights == record->end() || !weights->is_object()) {
    Model empty;
    importSparsityRecord(*record, empty, pack.origin());  // names what is wrong with the record
    return;
  }
  for (const auto& [name, spec] : weights->items()) {
    Model one;
    one.config = pack.config();
    for (const PackTensor& t : pack.tensors()) {
      if (t.name != name) continue;
      if (t.quantized())
        one.tensors.set(t.name, quantizedOf(t).dequantize());
      else
        one.tensors.set(t.name, Tensor(pack::storageDType(t.storage), t.shape, pack.owner(), t.data.data));
    }
    json single = *record;
    single["weights"] = json::object({{name, spec}});
    importSparsityRecord(single, one, pack.origin());
  }
}

// The tensors the config describes, by name and shape, and no others: metadata claiming another
// layer count (or size) than the blocks hold is refused here, for every command, not only by
// the model checks that verify and inspect run.
void checkTensorsMatchConfig(const ModelConfig& config, const std::vector<PackTensor>& tensors, const std::string& m) {
  std::map<std::string, const PackTensor*> by_name;
  for (const PackTensor& t : tensors) by_name[t.name] = &t;
  const std::string layers = " (config: " + std::to_string(config.num_layers) + " layers, hidden " +
                             std::to_string(config.hidden_size) + ")";
  const std::vector<TensorSpec> specs = expectedTensors(config);
  for (const TensorSpec& spec : specs) {
    const auto it = by_name.find(spec.name);
    require(it != by_name.end(), m + " config implies tensor '" + spec.name + "'" + layers +
                                     ", which the pack does not hold (metadata contradicts the data; corrupt pack)");
    require(it->second->shape == spec.shape, m + " config implies tensor '" + spec.name + "' of shape " +
                                                 shapeString(spec.shape) + layers + " but the pack holds " +
                                                 shapeString(it->second->shape) +
                                                 " (metadata contradicts the data; corrupt pack)");
    by_name.erase(it);
  }
  require(by_name.empty(), m + " lists tensor '" + (by_name.empty() ? std::string() : by_name.begin()->first) +
                               "', which its config" + layers +
                               " does not describe (metadata contradicts the data; corrupt pack)");
}

}  // namespace

PackFile PackFile::open(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const std::byte* data = file->data();
  const size_t size = file->size();
  return PackFile(std::move(file), data, size, path);
}

PackFile PackFile::fromBytes(std::string bytes, const std::string& origin) {
  auto held = std::make_shared<const std::string>(std::move(bytes));
  const auto* data = reinterpret_cast<const std::byte*>(held->data());
  const size_t size = held->size();
  return PackFile(std::move(held), data, size, origin);
}

PackFile::PackFile(std::shared_ptr<const void> owner, const std::byte* data, size_t size, std::string origin)
    : owner_(std::move(owner)), data_(data), size_(size), origin_(std::move(origin)) {
  const std::string& o = origin_;
  require(size >= sizeof pack::kMagic, o + ": " + str(size) + " bytes is too short to be a .slmc pack (truncated; " +
                                            kReexport + ")");
  require(std::memcmp(data, pack::kMagic, sizeof pack::kMagic) == 0,
          o + ": not a .slmc pack (starts with \"" + printableBytes(data, sizeof pack::kMagic) +
              "\", expected \"SLMCPACK\"; write one with slmc export MODEL -o model.slmc)");
  require(size >= sizeof(pack::Header), o + ": truncated: " + str(size) + " bytes, less than the " +
                                            str(sizeof(pack::Header)) + "-byte pack header (" + kReexport + ")");
  pack::Header h;
  std::memcpy(&h, data, sizeof h);
  version_ = h.version;
  require(h.version == pack::kFormatVersion,
          o + ": pack format version " + str(h.version) + " is not supported (this slmc reads version " +
              str(pack::kFormatVersion) + "; use the slmc that wrote it, or " + kReexport + " with this one)");
  require(crc32c(data, pack::kHeaderCrcBytes) == h.header_crc32,
          o + ": header checksum mismatch (the file is corrupt; " + kReexport + ")");
  require(h.header_bytes == sizeof(pack::Header) && h.table_offset == sizeof(pack::Header),
          o + ": header declares a " + str(h.header_bytes) + "-byte header and a block table at offset " +
              str(h.table_offset) + " (version 1 has both at 64; corrupt pack)");
  require(size >= h.file_bytes, o + ": truncated: " + str(size) + " of " + str(h.file_bytes) +
                                    " bytes (the copy is incomplete; copy it again or " + kReexport + ")");
  require(size == h.file_bytes, o + ": " + str(size - h.file_bytes) + " unexpected bytes after the end of the pack (" +
                                    str(h.file_bytes) + " bytes; the file is corrupt, " + kReexport + ")");

  // Block table.
  const uint64_t table_bytes = uint64_t{h.block_count} * sizeof(pack::BlockEntry);
  require(table_bytes <= size - sizeof(pack::Header),
          o + ": block table of " + str(h.block_count) + " entries runs past the end of the file (corrupt header)");
  require(crc32c(data + sizeof(pack::Header), table_bytes) == h.table_crc32,
          o + ": block table checksum mismatch (the file is corrupt; " + kReexport + ")");
  std::vector<pack::BlockEntry> table(h.block_count);
  if (table_bytes) std::memcpy(table.data(), data + sizeof(pack::Header), table_bytes);

  // Metadata.
  const uint64_t table_end = sizeof(pack::Header) + table_bytes;
  require(h.metadata_offset == table_end, o + ": metadata offset " + str(h.metadata_offset) +
                                              " does not follow the block table (ends at " + str(table_end) +
                                              "; corrupt header)");
  require(h.metadata_bytes <= size - table_end, o + ": metadata of " + str(h.metadata_bytes) + " bytes at offset " +
                                                    str(table_end) + " runs past the end of the file (corrupt header)");
  require(crc32c(data + table_end, h.metadata_bytes) == h.metadata_crc32,
          o + ": metadata checksum mismatch (the file is corrupt; " + kReexport + ")");
  parseMetadata(table, table_end + h.metadata_bytes);
}

PackView PackFile::claimBlock(const json& index_json, const std::string& what, std::vector<bool>& used) {
  const std::string& o = origin_;
  const int64_t index = integer(index_json, o + ": metadata block index of " + what);
  require(index >= 0 && static_cast<uint64_t>(index) < blocks_.size(),
          o + ": metadata gives " + what + " block " + std::to_string(index) + ", but the table has " +
              str(blocks_.size()) + " blocks (corrupt pack)");
  require(!used[static_cast<size_t>(index)],
          o + ": block " + std::to_string(index) + " is claimed twice (" + blocks_[static_cast<size_t>(index)].what +
              " and " + what + "; corrupt pack)");
  used[static_cast<size_t>(index)] = true;
  PackBlock& b = blocks_[static_cast<size_t>(index)];
  b.what = what;
  const std::string name = "block " + std::to_string(index) + " (" + what + ")";
  require(b.offset <= size_ && b.bytes <= size_ - b.offset,
          o + ": " + name + " at offset " + str(b.offset) + " with " + str(b.bytes) + " bytes ends past the end of the " +
              str(size_) + "-byte file (corrupt block table; " + kReexport + ")");
  require(b.offset % pack::kAlignment == 0, o + ": " + name + " offset " + str(b.offset) + " is not " +
                                                str(pack::kAlignment) + "-byte aligned (corrupt block table)");
  return PackView{data_ + b.offset, static_cast<size_t>(b.bytes)};
}

void PackFile::parseMetadata(const std::vector<pack::BlockEntry>& table, uint64_t metadata_end) {
  const std::string& o = origin_;
  const uint64_t metadata_offset = sizeof(pack::Header) + table.size() * sizeof(pack::BlockEntry);
  const char* text = reinterpret_cast<const char*>(data_ + metadata_offset);
  try {
    metadata_ = json::parse(text, text + (metadata_end - metadata_offset));
  } catch (const json::exception& e) {
    throw Error(o + ": metadata is not valid JSON (" + e.what() + "; corrupt pack)");
  }
  blocks_.resize(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    require(table[i].reserved == 0, o + ": block " + str(i) + " has a non-zero reserved field (corrupt block table)");
    blocks_[i] = PackBlock{table[i].offset, table[i].bytes, table[i].crc32, "unreferenced"};
  }
  std::vector<bool> used(table.size(), false);
  const std::string m = o + ": metadata";
  try {
    require(metadata_.is_object(), m + " is not a JSON object (corrupt pack)");
    const std::string format = string(member(metadata_, "format", m), m + " \"format\"");
    require(format == pack::kFormatName, m + " format \"" + format + "\" is not \"" + pack::kFormatName + "\"");

    // Architecture.
    const json& config = member(metadata_, "config", m);
    checkConfigValues(config, m + " config");
    config_ = parseHfConfig(config.dump(), o + " (metadata config)");

    // Tensors.
    const json& tensors = member(metadata_, "tensors", m);
    require(tensors.is_array(), m + " \"tensors\" is not a list");
    std::set<std::string> names;
    for (const json& entry : tensors) {
      PackTensor t;
      t.name = string(member(entry, "name", m + " tensor"), m + " tensor name");
      const std::string tw = "tensor '" + t.name + "'";
      require(!t.name.empty() && names.insert(t.name).second, m + " lists " + tw + " twice (corrupt pack)");
      const json& shape = member(entry, "shape", m + " " + tw);
      require(shape.is_array() && shape.size() <= 8, m + " " + tw + " shape is not a list of at most 8 sizes");
      // Element count, capped by what the file could hold (no overflow below).
      uint64_t numel = 1;
      for (const json& d : shape) {
        const int64_t v = integer(d, m + " " + tw + " shape");
        require(v >= 0 && static_cast<uint64_t>(v) <= 8 * uint64_t{size_} + 8,
                m + " " + tw + " has an impossible dimension " + std::to_string(v) + " (corrupt pack)");
        t.shape.push_back(v);
        require(!__builtin_mul_overflow(numel, static_cast<uint64_t>(v), &numel) && numel <= 8 * uint64_t{size_} + 8,
                m + " " + tw + " shape " + shapeString(t.shape) + " is larger than the file could hold (corrupt pack)");
      }
      const std::string storage = string(member(entry, "storage", m + " " + tw), m + " " + tw + " storage");
      const WeightTypeTraits* traits = findStorage(storage);
      require(traits != nullptr, m + " " + tw + " has storage \"" + storage +
                                     "\", which this slmc does not know (" + storageNames() + ")");
      t.storage = traits->type;
      const auto sizeMismatch = [&](const char* part, const PackView& v, int64_t expected) {
        require(static_cast<int64_t>(v.bytes) == expected,
                m + " says " + tw + " is " + storage + " " + shapeString(t.shape) +
                    (t.quantized() ? " " + schemeName(t.scheme) : std::string()) + ", which needs " +
                    std::to_string(expected) + " bytes of " + part + ", but its block holds " + str(v.bytes) +
                    " (metadata contradicts the data; corrupt pack)");
      };
      if (!traits->quantized) {
        t.data = claimBlock(member(entry, "block", m + " " + tw), tw, used);
        sizeMismatch("data", t.data, static_cast<int64_t>(numel * dtypeSize(pack::storageDType(traits->type))));
      } else {
        require(t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] > 0,
                m + " " + tw + " is quantized but its shape " + shapeString(t.shape) + " is not [rows, cols]");
        const int64_t rows = t.shape[0], cols = t.shape[1];
        t.scheme.type = traits->type;
        t.scheme.group_size = integer(member(entry, "group_size", m + " " + tw), m + " " + tw + " group_size");
        t.scheme.symmetric = boolean(member(entry, "symmetric", m + " " + tw), m + " " + tw + " symmetric");
        require(t.scheme.group_size >= 0 && (t.scheme.group_size == 0 || cols % t.scheme.group_size == 0),
                m + " " + tw + " group_size " + std::to_string(t.scheme.group_size) + " does not divide its " +
                    std::to_string(cols) + " columns (corrupt pack)");
        const pack::QuantizedBlockBytes need = pack::quantizedBlockBytes(t.scheme, rows, cols);
        const json& blocks = member(entry, "blocks", m + " " + tw);
        require(blocks.is_object(), m + " " + tw + " \"blocks\" is not an object");
        for (const auto& [role, index] : blocks.items())
          require(role == "codes" || role == "scales" || (role == "zeros" && !t.scheme.symmetric),
                  m + " " + tw + " has an unexpected \"" + role + "\" block (" + schemeName(t.scheme) + ")");
        t.codes = claimBlock(member(blocks, "codes", m + " " + tw + " blocks"), tw + " codes", used);
        sizeMismatch("codes", t.codes, need.codes);
        t.scales = claimBlock(member(blocks, "scales", m + " " + tw + " blocks"), tw + " scales", used);
        sizeMismatch("scales", t.scales, need.scales);
        if (!t.scheme.symmetric) {
          t.zeros = claimBlock(member(blocks, "zeros", m + " " + tw + " blocks"), tw + " zeros", used);
          sizeMismatch("zeros", t.zeros, need.zeros);
        }
      }
      tensors_.push_back(std::move(t));
    }

    // Every layer has tensors: a config with more layers than the pack has tensors is corrupt
    // (and would make the model checks enumerate millions of expected tensors).
    require(static_cast<uint64_t>(config_.num_layers) <= tensors_.size(),
            m + " config has " + std::to_string(config_.num_layers) + " layers but the pack holds only " +
                str(tensors_.size()) + " tensors (corrupt pack)");
    checkTensorsMatchConfig(config_, tensors_, m);

    // Activation quantizers: linear weight name → quantizer of its input.
    const json& activations = member(metadata_, "activation_quant", m);
    require(activations.is_object(), m + " \"activation_quant\" is not an object");
    for (const auto& [name, spec] : activations.items()) {
      const std::string aw = m + " activation quantizer of '" + name + "'";
      require(names.count(name) != 0, aw + " names no tensor of the pack (corrupt pack)");
      ActivationQuant a;
      const int64_t bits = integer(member(spec, "bits", aw), aw + " bits");
      a.dynamic = boolean(member(spec, "dynamic", aw), aw + " dynamic");
      const json& scale = member(spec, "scale", aw);
      require(scale.is_number(), aw + " scale is not a number");
      const double s = scale.get<double>();
      require(ActivationQuant::validBits(bits) && std::isfinite(s) && s >= 0 && s <= std::numeric_limits<float>::max() &&
                  (a.dynamic || s > 0),
              aw + " is invalid (bits 2..8, a positive static scale)");
      a.bits = static_cast<int>(bits);
      a.scale = static_cast<float>(s);
      activation_quant_[name] = a;
    }

    // Tokenizer files.
    const json& files = member(metadata_, "tokenizer", m);
    require(files.is_array(), m + " \"tokenizer\" is not a list");
    std::set<std::string> file_names;
    for (const json& f : files) {
      const std::string name = string(member(f, "name", m + " tokenizer file"), m + " tokenizer file name");
      require(!name.empty() && name.find('/') == std::string::npos && file_names.insert(name).second,
              m + " tokenizer file name '" + name + "' is empty, has a '/', or is repeated (corrupt pack)");
      const PackView v = claimBlock(member(f, "block", m + " tokenizer file"), "tokenizer file '" + name + "'", used);
      tokenizer_.push_back({name, std::string_view(reinterpret_cast<const char*>(v.data), v.bytes)});
    }

    // Provenance.
    const json& p = member(metadata_, "provenance", m);
    const std::string pw = m + " provenance";
    provenance_.source = string(member(p, "source", pw), pw + " source");
    provenance_.source_sha256 = string(member(p, "source_sha256", pw), pw + " source_sha256");
    provenance_.recipe = string(member(p, "recipe", pw), pw + " recipe");
    provenance_.slmc_version = string(member(p, "slmc_version", pw), pw + " slmc_version");
  } catch (const json::exception& e) {
    throw Error(m + " is malformed (" + e.what() + "; corrupt pack)");
  }

  // Every block belongs to something, in file order, after the metadata, without overlap.
  uint64_t end = metadata_end;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    require(used[i], o + ": block " + str(i) + " is not referenced by the metadata (corrupt pack)");
    require(blocks_[i].offset >= end, o + ": block " + str(i) + " (" + blocks_[i].what + ") at offset " +
                                          str(blocks_[i].offset) +
                                          " overlaps the metadata or the block before it (corrupt block table)");
    end = blocks_[i].offset + blocks_[i].bytes;
  }
}

void PackFile::verify() const {
  // The checksums and the value scan each read the whole file: on two threads at once they cost
  // the longer of the two (the float32 SmolLM2 pack, 540 MB: ~0.1 s of a run's start). A damaged
  // block is still reported before a bad value.
  int64_t bad_block = -1;
  std::thread checksums([&] {
    for (size_t i = 0; i < blocks_.size(); ++i)
      if (crc32c(data_ + blocks_[i].offset, blocks_[i].bytes) != blocks_[i].crc32) {
        bad_block = static_cast<int64_t>(i);
        return;
      }
  });
  std::string bad_value;
  try {
    checkValues(*this);
  } catch (const Error& e) {
    bad_value = e.what();
  }
  checksums.join();
  if (bad_block >= 0) {
    const PackBlock& b = blocks_[static_cast<size_t>(bad_block)];
    throw Error(origin_ + ": checksum mismatch in block " + str(static_cast<uint64_t>(bad_block)) + " (" + b.what + ") at offset " +
                str(b.offset) + ": the file is corrupt (" + kReexport + ")");
  }
  if (!bad_value.empty()) throw Error(bad_value);
  checkSparsityClaims(*this);
}

bool looksLikePack(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof pack::kMagic] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, pack::kMagic, sizeof magic) == 0;
}

Model packToModel(const PackFile& pack) {
  Model model;
  model.config = pack.config();
  model.source = pack.origin();
  for (const PackTensor& t : pack.tensors()) {
    if (!t.quantized()) {
      model.tensors.set(t.name, Tensor(pack::storageDType(t.storage), t.shape, pack.owner(), t.data.data));
      continue;
    }
    QuantizedTensor q = quantizedOf(t);
    try {
      q.validate(t.name);
    } catch (const Error& e) {
      throw Error(pack.origin() + ": " + e.what());
    }
    model.tensors.set(t.name, q.dequantize());
    model.quantized[t.name] = std::make_shared<const QuantizedTensor>(std::move(q));
  }
  model.activation_quant = pack.activationQuant();
  // Optional: packs of dense models carry no record.
  if (pack.metadata().contains("sparsity")) importSparsityRecord(pack.metadata().at("sparsity"), model, pack.origin());
  return model;
}

Model loadPackAsModel(const std::string& path) {
  const PackFile pack = PackFile::open(path);
  pack.verify();
  return packToModel(pack);
}

}  // namespace slmc
