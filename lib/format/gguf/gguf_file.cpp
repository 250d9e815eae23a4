#include "lib/format/gguf/gguf_file.h"

#include <cstring>
#include <fstream>
#include <limits>

#include "lib/format/gguf/gguf_types.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc::gguf {

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT
constexpr uint32_t kMaxDims = 4;            // GGML_MAX_DIMS
constexpr size_t kMaxNameBytes = 63;        // GGML_MAX_NAME - 1 (the terminating NUL)
constexpr int kTypeCount = 13;              // value types 0..12

// Bytes of one fixed-size value type (0 for string and array).
size_t valueBytes(ValueType t) {
  switch (t) {
    case ValueType::UInt8: case ValueType::Int8: case ValueType::Bool: return 1;
    case ValueType::UInt16: case ValueType::Int16: return 2;
    case ValueType::UInt32: case ValueType::Int32: case ValueType::Float32: return 4;
    case ValueType::UInt64: case ValueType::Int64: case ValueType::Float64: return 8;
    default: return 0;
  }
}
bool isInteger(ValueType t) {
  return valueBytes(t) != 0 && t != ValueType::Bool && t != ValueType::Float32 && t != ValueType::Float64;
}
bool isFloat(ValueType t) { return t == ValueType::Float32 || t == ValueType::Float64; }

// Reads little-endian fields in sequence, each bounds-checked against the end of the file.
class Reader {
 public:
  Reader(const std::byte* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}
  size_t offset() const { return offset_; }
  size_t remaining() const { return size_ - offset_; }

  void need(size_t n, const std::string& what) const {
    require(n <= remaining(), path_ + ": truncated: " + what + " at byte " + std::to_string(offset_) + " needs " +
                                  std::to_string(n) + " bytes but the file ends at byte " + std::to_string(size_) +
                                  " (re-download or re-convert the file)");
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + offset_, sizeof v);
    offset_ += sizeof v;
    return v;
  }
  std::string readString(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " length");
    require(n <= remaining(), path_ + ": " + what + " at byte " + std::to_string(offset_ - 8) + " claims " +
                                  std::to_string(n) + " bytes, more than the " + std::to_string(remaining()) +
                                  " left in the file (corrupt or truncated file)");
    std::string s(reinterpret_cast<const char*>(data_ + offset_), static_cast<size_t>(n));
    offset_ += static_cast<size_t>(n);
    return s;
  }

 private:
  const std::byte* data_;
  size_t size_;
  size_t offset_ = 0;
  const std::string& path_;
};

// One scalar of a fixed-size type into `v`'s integer / real fields.
void readScalar(Reader& r, ValueType t, MetaValue& v, const std::string& what) {
  switch (t) {
    case ValueType::UInt8: v.integer = r.read<uint8_t>(what); break;
    case ValueType::Int8: v.integer = r.read<int8_t>(what); break;
    case ValueType::UInt16: v.integer = r.read<uint16_t>(what); break;
    case ValueType::Int16: v.integer = r.read<int16_t>(what); break;
    case ValueType::UInt32: v.integer = r.read<uint32_t>(what); break;
    case ValueType::Int32: v.integer = r.read<int32_t>(what); break;
    case ValueType::Int64: v.integer = r.read<int64_t>(what); break;
    case ValueType::UInt64: {
      const uint64_t u = r.read<uint64_t>(what);
      v.integer_overflow = v.integer_overflow || u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      v.integer = static_cast<int64_t>(u);
      break;
    }
    case ValueType::Bool: v.integer = r.read<uint8_t>(what); break;
    case ValueType::Float32: v.real = r.read<float>(what); break;
    case ValueType::Float64: v.real = r.read<double>(what); break;
    default: break;
  }
}

uint64_t padded(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

const char* valueTypeName(ValueType type) {
  static const char* const kNames[kTypeCount] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32", "float32",
                                                 "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto i = static_cast<uint32_t>(type);
  return i < kTypeCount ? kNames[i] : "unknown";
}

std::string MetaValue::typeName() const {
  if (type != ValueType::Array) return valueTypeName(type);
  return std::string("array of ") + valueTypeName(element_type);
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

bool looksLikeGguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4];
  return in.read(magic, 4) && std::memcmp(magic, kMagic, 4) == 0;
}

std::shared_ptr<const GgufFile> GgufFile::open(const std::string& path) {
  auto file = MappedFile::open(path);
  return fromBytes(file, file->data(), file->size(), path);
}

std::shared_ptr<const GgufFile> GgufFile::fromBytes(std::shared_ptr<const void> owner, const std::byte* data,
                                                    size_t size, const std::string& name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  f->owner_ = std::move(owner);
  f->parse(data, size);
  return f;
}

void GgufFile::parse(const std::byte* data, size_t size) {
  const std::string& p = path_;
  require(size >= 4 && std::memcmp(data, kMagic, 4) == 0,
          p + ": not a GGUF file (bad magic: the file does not start with \"GGUF\")");
  Reader r(data, size, p);
  r.read<uint32_t>("magic");
  version_ = r.read<uint32_t>("version");
  require(version_ != 1, p + ": GGUF version 1 is not supported (slmc reads versions 2 and 3; re-convert the model "
                             "with a current llama.cpp)");
  require(version_ == 2 || version_ == 3, p + ": GGUF version " + std::to_string(version_) +
                                              " is not supported (slmc reads versions 2 and 3)");
  const uint64_t tensor_count = r.read<uint64_t>("tensor count");
  const uint64_t kv_count = r.read<uint64_t>("metadata count");
  // Each key-value pair takes at least 12 bytes (key length + type), each tensor info 24
  // (name length, one dimension, type, offset... at least 8 + 4 + 8 + 4 + 8): the counts cannot
  // exceed what the file could hold.
  require(kv_count <= r.remaining() / 12, p + ": the header claims " + std::to_string(kv_count) +
                                              " metadata entries, more than the file's " + std::to_string(size) +
                                              " bytes can hold (corrupt file)");
  require(tensor_count <= r.remaining() / 32, p + ": the header claims " + std::to_string(tensor_count) +
                                                  " tensors, more than the file's " + std::to_string(size) +
                                                  " bytes can hold (corrupt file)");

  for (uint64_t i = 0; i < kv_count; ++i) {
    const std::string key = r.readString("metadata key " + std::to_string(i));
    require(metadata_.count(key) == 0, p + ": duplicate metadata key '" + key + "' (corrupt file)");
    const std::string what = "metadata '" + key + "'";
    const uint32_t type_id = r.read<uint32_t>(what + " type");
    require(type_id < kTypeCount, p + ": metadata '" + key + "' has unknown value type " + std::to_string(type_id) +
                                      " (corrupt file, or a GGUF newer than slmc knows)");
    MetaValue v;
    v.type = static_cast<ValueType>(type_id);
    if (v.type == ValueType::String) {
      v.string = r.readString(what);
    } else if (v.type == ValueType::Array) {
      const uint32_t element_id = r.read<uint32_t>(what + " element type");
      require(element_id < kTypeCount && element_id != static_cast<uint32_t>(ValueType::Array),
              p + ": metadata '" + key + "' is an array of " +
                  (element_id == static_cast<uint32_t>(ValueType::Array) ? std::string("arrays, which GGUF readers "
                                                                                       "do not support")
                                                                         : "unknown type " + std::to_string(element_id)) +
                  " (corrupt file)");
      v.element_type = static_cast<ValueType>(element_id);
      const uint64_t n = r.read<uint64_t>(what + " length");
      const size_t min_bytes = v.element_type == ValueType::String ? 8 : valueBytes(v.element_type);
      require(n <= r.remaining() / min_bytes, p + ": metadata '" + key + "' claims " + std::to_string(n) +
                                                  " elements, more than the rest of the file can hold (corrupt "
                                                  "or truncated file)");
      if (v.element_type == ValueType::String) {
        v.strings.reserve(static_cast<size_t>(n));
        for (uint64_t j = 0; j < n; ++j) v.strings.push_back(r.readString(what + " element " + std::to_string(j)));
      } else if (isFloat(v.element_type)) {
        v.reals.reserve(static_cast<size_t>(n));
        for (uint64_t j = 0; j < n; ++j) {
          readScalar(r, v.element_type, v, what);
          v.reals.push_back(v.real);
        }
        v.real = 0;
      } else {
        v.integers.reserve(static_cast<size_t>(n));
        for (uint64_t j = 0; j < n; ++j) {
          readScalar(r, v.element_type, v, what);
          v.integers.push_back(v.integer);
        }
        v.integer = 0;
      }
    } else {
      readScalar(r, v.type, v, what);
    }
    key_order_.push_back(key);
    metadata_.emplace(key, std::move(v));
  }

  if (const MetaValue* a = find("general.alignment")) {
    require(a->type == ValueType::UInt32, p + ": metadata 'general.alignment' is " + a->typeName() +
                                              ", not uint32 (corrupt file)");
    const auto align = static_cast<uint64_t>(a->integer);
    require(align != 0 && (align & (align - 1)) == 0, p + ": metadata 'general.alignment' is " +
                                                          std::to_string(align) +
                                                          ", not a power of two (corrupt file)");
    alignment_ = static_cast<uint32_t>(align);
  } else {
    alignment_ = kDefaultAlignment;
  }

  tensors_.reserve(static_cast<size_t>(tensor_count));
  uint64_t expected_offset = 0;  // the running padded sum of the tensors' sizes
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorInfo t;
    t.name = r.readString("tensor name " + std::to_string(i));
    const std::string tn = p + ": tensor '" + t.name + "'";
    require(t.name.size() <= kMaxNameBytes, tn + " has a name of " + std::to_string(t.name.size()) +
                                                " bytes; ggml allows at most " + std::to_string(kMaxNameBytes));
    require(tensor_index_.count(t.name) == 0, p + ": duplicate tensor name '" + t.name + "' (corrupt file)");
    const uint32_t dims = r.read<uint32_t>("tensor '" + t.name + "' dimension count");
    require(dims >= 1 && dims <= kMaxDims, tn + " has " + std::to_string(dims) + " dimensions; GGUF allows 1 to " +
                                               std::to_string(kMaxDims) + " (corrupt file)");
    int64_t numel = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      const int64_t n = r.read<int64_t>("tensor '" + t.name + "' dimensions");
      require(n > 0, tn + " has dimension " + std::to_string(d) + " = " + std::to_string(n) +
                         "; every dimension must be positive (corrupt file)");
      require(numel <= std::numeric_limits<int64_t>::max() / n,
              tn + " has dimensions whose product overflows 64 bits (corrupt file)");
      numel *= n;
      t.ne.push_back(n);
    }
    t.type = r.read<uint32_t>("tensor '" + t.name + "' type");
    const GgmlTypeTraits* type = findGgmlType(t.type);
    require(type != nullptr, tn + " has unknown ggml type " + std::to_string(t.type) +
                                 " (corrupt file, or a type newer than slmc knows)");
    require(t.ne[0] % type->block_size == 0, tn + " has rows of " + std::to_string(t.ne[0]) +
                                                 " values, not a multiple of " + type->name + "'s block size " +
                                                 std::to_string(type->block_size) + " (corrupt file)");
    const uint64_t blocks = static_cast<uint64_t>(numel / type->block_size);
    require(blocks <= std::numeric_limits<uint64_t>::max() / 2 / type->block_bytes,
            tn + " is larger than any file (corrupt file)");
    const uint64_t bytes = blocks * type->block_bytes;
    t.offset = r.read<uint64_t>("tensor '" + t.name + "' offset");
    require(t.offset == expected_offset,
            tn + " has data offset " + std::to_string(t.offset) + ", expected " + std::to_string(expected_offset) +
                " (GGUF stores tensors in order, each padded to the alignment " + std::to_string(alignment_) +
                "; corrupt file)");
    require(bytes <= size, tn + " needs " + std::to_string(bytes) + " bytes of data, more than the whole file (" +
                               std::to_string(size) + " bytes; truncated or corrupt file)");
    t.bytes = static_cast<size_t>(bytes);
    expected_offset += padded(bytes, alignment_);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  const uint64_t data_start = padded(r.offset(), alignment_);
  for (TensorInfo& t : tensors_) {
    const uint64_t begin = data_start + t.offset;
    require(begin <= size && t.bytes <= size - begin,
            p + ": tensor '" + t.name + "' data (bytes " + std::to_string(begin) + " to " +
                std::to_string(begin + t.bytes) + ") runs past the end of the file at byte " + std::to_string(size) +
                " (truncated file: re-download or re-convert it)");
    t.data = data + begin;
  }
}

const MetaValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

void GgufFile::wrongType(const std::string& key, const MetaValue& v, const char* wanted) const {
  throw Error(path_ + ": metadata '" + key + "' is " + v.typeName() + ", expected " + wanted);
}

std::optional<std::string> GgufFile::getString(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::String) wrongType(key, *v, "string");
  return v->string;
}

std::optional<int64_t> GgufFile::getInt(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return std::nullopt;
  if (!isInteger(v->type)) wrongType(key, *v, "an integer");
  require(!v->integer_overflow, path_ + ": metadata '" + key + "' is a uint64 above the int64 range");
  return v->integer;
}

std::optional<double> GgufFile::getFloat(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return std::nullopt;
  if (!isFloat(v->type)) wrongType(key, *v, "float32 or float64");
  return v->real;
}

std::optional<bool> GgufFile::getBool(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::Bool) wrongType(key, *v, "bool");
  return v->integer != 0;
}

std::vector<std::string> GgufFile::getStringArray(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return {};
  if (v->type != ValueType::Array || v->element_type != ValueType::String) wrongType(key, *v, "array of string");
  return v->strings;
}

std::vector<int64_t> GgufFile::getIntArray(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return {};
  if (v->type != ValueType::Array || !isInteger(v->element_type)) wrongType(key, *v, "an array of integers");
  require(!v->integer_overflow, path_ + ": metadata '" + key + "' holds a uint64 above the int64 range");
  return v->integers;
}

std::vector<float> GgufFile::getFloatArray(const std::string& key) const {
  const MetaValue* v = find(key);
  if (!v) return {};
  if (v->type != ValueType::Array || !isFloat(v->element_type)) wrongType(key, *v, "an array of floats");
  return std::vector<float>(v->reals.begin(), v->reals.end());
}

const TensorInfo* GgufFile::findTensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace slmc::gguf
