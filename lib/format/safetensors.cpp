#include "lib/format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/mapped_file.h"

namespace slmc {

using nlohmann::json;

namespace {

// transformers refuses headers over 100 MB; a bigger length means a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::string parentDir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

NamedTensors readSafetensors(const std::string& path) {
  auto file = MappedFile::open(path);
  const size_t size = file->size();
  const std::string bad = path + ": ";
  require(size >= 8, bad + "truncated: " + std::to_string(size) +
                         " bytes, shorter than the 8-byte header length (re-download or re-export the file)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | static_cast<uint8_t>(file->data()[i]);
  require(header_len <= size - 8 && header_len <= kMaxHeaderBytes,
          bad + "header length " + std::to_string(header_len) + " runs past the end of the " + std::to_string(size) +
              "-byte file (truncated, or not a safetensors file)");
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(file->data()) + 8,
                         reinterpret_cast<const char*>(file->data()) + 8 + header_len);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e705
    throw Error(bad + "header is not valid JSON (" + std::string(e.what()) + "); not a safetensors file?");
  }
  require(header.is_object(), bad + "header is not a JSON object; not a safetensors file?");

  const std::byte* data = file->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  NamedTensors out;
  struct Span {
    uint64_t begin, end;
    std::string name;
    Tensor tensor;
  };
  std::vector<Span> spans;
  std::shared_ptr<const void> owner = file;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      require(entry.is_object(), bad + "__metadata__ must be an object of strings");
      for (const auto& [k, v] : entry.items()) {
        require(v.is_string(), bad + "__metadata__ value for '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = bad + "tensor '" + name + "': ";
    require(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
            where + "entry needs dtype, shape and data_offsets");
    require(entry["dtype"].is_string(), where + "dtype is not a string");
    DType dtype;
    try {
      dtype = parseDType(entry["dtype"].get<std::string>());
    } catch (const Error& e) {
      throw Error(where + e.what());
    }
    Shape shape;
    require(entry["shape"].is_array(), where + "shape is not a list");
    for (const auto& d : entry["shape"]) {
      require(d.is_number_unsigned() && d.get<uint64_t>() <= (uint64_t{1} << 62),
              where + "shape " + entry["shape"].dump() + " has a non-integer, negative or impossibly large dimension");
      shape.push_back(d.get<int64_t>());
    }
    const auto& offsets = entry["data_offsets"];
    require(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                offsets[1].is_number_unsigned(),
            where + "data_offsets must be two non-negative integers");
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    require(begin <= end && end <= data_size,
            where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] fall outside the " +
                std::to_string(data_size) + "-byte data section (the file is truncated or corrupt)");
    // The bytes the shape needs, computed without overflow: a [2^40, 2^40] F32 tensor needs
    // more than the file could ever hold, not the 0 a wrapped product says.
    uint64_t expected = dtypeSize(dtype);
    bool overflow = false;
    for (const int64_t d : shape) overflow = overflow || __builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected);
    require(!overflow && end - begin == expected,
            where + "holds " + std::to_string(end - begin) + " bytes but shape " + shapeString(shape) + " of " +
                dtypeName(dtype) + " needs " + (overflow ? std::string("more than 2^64") : std::to_string(expected)) +
                " (the file is corrupt)");
    const std::byte* p = data + begin;
    Tensor t = reinterpret_cast<uintptr_t>(p) % dtypeSize(dtype) == 0 ? Tensor(dtype, shape, owner, p)
                                                                      : Tensor::copyOf(dtype, shape, p);
    spans.push_back({begin, end, name, std::move(t)});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    require(spans[i].begin >= spans[i - 1].end || spans[i].begin == spans[i].end,
            bad + "tensors '" + spans[i - 1].name + "' and '" + spans[i].name +
                "' overlap in the data section (the file is corrupt)");
  // Keep the file's physical order: it is the order writers chose and what round trips expect.
  out.tensors.reserve(spans.size());
  for (auto& span : spans) out.tensors.emplace_back(std::move(span.name), std::move(span.tensor));
  return out;
}

NamedTensors readShardedSafetensors(const std::string& index_path) {
  json index;
  try {
    index = json::parse(readTextFile(index_path));
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e705
    throw Error(index_path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  require(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
          index_path + ": no \"weight_map\" object (is this a safetensors index?)");
  std::map<std::string, std::set<std::string>> by_shard;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    require(shard.is_string(), index_path + ": weight_map entry for '" + name + "' is not a file name");
    const std::string file = shard.get<std::string>();
    require(file.find('/') == std::string::npos && file.find("..") == std::string::npos,
            index_path + ": shard name '" + file + "' must be a plain file name in the same folder");
    by_shard[file].insert(name);
  }
  NamedTensors out;
  const std::string dir = parentDir(index_path);
  for (const auto& [file, wanted] : by_shard) {
    NamedTensors shard = readSafetensors(dir + "/" + file);
    std::set<std::string> found;
    for (auto& entry : shard.tensors) {
      if (!wanted.count(entry.first)) continue;  // present but indexed elsewhere: the index wins
      found.insert(entry.first);
      out.tensors.push_back(std::move(entry));
    }
    for (const auto& name : wanted)
      require(found.count(name), index_path + ": tensor '" + name + "' is indexed in " + file +
                                     " but that shard does not contain it (incomplete download?)");
    out.metadata.insert(shard.metadata.begin(), shard.metadata.end());
  }
  return out;
}

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    require(name != "__metadata__", "a tensor cannot be named __metadata__");
    header[name] = {{"dtype", dtypeName(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  AtomicFile file(path);
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  file.write(len, 8);
  file.write(text);
  for (const auto& entry : tensors) file.write(entry.second.bytes(), entry.second.nbytes());
  file.commit();
}

}  // namespace slmc
