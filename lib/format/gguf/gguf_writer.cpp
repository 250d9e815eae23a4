#include "lib/format/gguf/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "lib/format/gguf/gguf_types.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"

namespace slmc::gguf {

namespace {

constexpr uint32_t kVersion = 3;
constexpr size_t kMaxDims = 4;        // GGML_MAX_DIMS
constexpr size_t kMaxNameBytes = 63;  // GGML_MAX_NAME - 1

// The range of an integer value type, as [lo, hi]; Bool is 0..1.
std::pair<int64_t, int64_t> integerRange(ValueType t) {
  switch (t) {
    case ValueType::UInt8: return {0, 255};
    case ValueType::Int8: return {-128, 127};
    case ValueType::UInt16: return {0, 65535};
    case ValueType::Int16: return {-32768, 32767};
    case ValueType::UInt32: return {0, 4294967295LL};
    case ValueType::Int32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case ValueType::Bool: return {0, 1};
    case ValueType::UInt64: return {0, std::numeric_limits<int64_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}
bool isIntegerOrBool(ValueType t) {
  return t != ValueType::Float32 && t != ValueType::Float64 && t != ValueType::String && t != ValueType::Array;
}

class Bytes {
 public:
  explicit Bytes(const std::function<void(const void*, size_t)>& sink) : sink_(sink) {}
  template <typename T>
  void put(T v) {
    sink_(&v, sizeof v);
    written_ += sizeof v;
  }
  void putString(const std::string& s) {
    put<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void* p, size_t n) {
    if (n) sink_(p, n);
    written_ += n;
  }
  void padTo(uint64_t alignment) {
    static const char zeros[256] = {};
    while (written_ % alignment) raw(zeros, std::min<uint64_t>(alignment - written_ % alignment, sizeof zeros));
  }

  void scalar(ValueType t, int64_t i, double r) {
    switch (t) {
      case ValueType::UInt8: put<uint8_t>(static_cast<uint8_t>(i)); break;
      case ValueType::Int8: put<int8_t>(static_cast<int8_t>(i)); break;
      case ValueType::UInt16: put<uint16_t>(static_cast<uint16_t>(i)); break;
      case ValueType::Int16: put<int16_t>(static_cast<int16_t>(i)); break;
      case ValueType::UInt32: put<uint32_t>(static_cast<uint32_t>(i)); break;
      case ValueType::Int32: put<int32_t>(static_cast<int32_t>(i)); break;
      case ValueType::Bool: put<uint8_t>(i != 0); break;
      case ValueType::UInt64: put<uint64_t>(static_cast<uint64_t>(i)); break;
      case ValueType::Int64: put<int64_t>(i); break;
      case ValueType::Float32: put<float>(static_cast<float>(r)); break;
      case ValueType::Float64: put<double>(r); break;
      default: throw Error("internal: GGUF scalar of type " + std::string(valueTypeName(t)));
    }
  }

 private:
  const std::function<void(const void*, size_t)>& sink_;
  uint64_t written_ = 0;
};

void checkIntegers(const std::string& key, ValueType t, const std::vector<int64_t>& values) {
  const auto [lo, hi] = integerRange(t);
  for (int64_t v : values)
    require(v >= lo && v <= hi, "GGUF metadata '" + key + "': value " + std::to_string(v) + " does not fit " +
                                    valueTypeName(t));
}

}  // namespace

void GgufWriter::set(const std::string& key, MetaValue value) {
  require(!key.empty(), "GGUF metadata keys must not be empty");
  if (value.type == ValueType::Array) {
    require(value.element_type != ValueType::Array, "GGUF metadata '" + key + "': nested arrays are not supported");
    if (isIntegerOrBool(value.element_type) && value.element_type != ValueType::String)
      checkIntegers(key, value.element_type, value.integers);
  } else if (isIntegerOrBool(value.type) && value.type != ValueType::String) {
    checkIntegers(key, value.type, {value.integer});
  }
  if (key == "general.alignment") {
    require(value.type == ValueType::UInt32 && value.integer > 0 && (value.integer & (value.integer - 1)) == 0,
            "GGUF metadata 'general.alignment' must be a uint32 power of two");
    alignment_ = static_cast<uint32_t>(value.integer);
  }
  for (Entry& e : metadata_)
    if (e.key == key) {
      e.value = std::move(value);
      return;
    }
  metadata_.push_back({key, std::move(value)});
}

void GgufWriter::setString(const std::string& key, std::string value) {
  MetaValue v;
  v.type = ValueType::String;
  v.string = std::move(value);
  set(key, std::move(v));
}

void GgufWriter::setUInt32(const std::string& key, uint32_t value) {
  MetaValue v;
  v.type = ValueType::UInt32;
  v.integer = value;
  set(key, std::move(v));
}

void GgufWriter::setFloat32(const std::string& key, float value) {
  MetaValue v;
  v.type = ValueType::Float32;
  v.real = value;
  set(key, std::move(v));
}

void GgufWriter::setBool(const std::string& key, bool value) {
  MetaValue v;
  v.type = ValueType::Bool;
  v.integer = value;
  set(key, std::move(v));
}

void GgufWriter::setStringArray(const std::string& key, std::vector<std::string> values) {
  MetaValue v;
  v.type = ValueType::Array;
  v.element_type = ValueType::String;
  v.strings = std::move(values);
  set(key, std::move(v));
}

void GgufWriter::setIntArray(const std::string& key, ValueType element_type, std::vector<int64_t> values) {
  require(isIntegerOrBool(element_type) && element_type != ValueType::String,
          "internal: setIntArray with element type " + std::string(valueTypeName(element_type)));
  MetaValue v;
  v.type = ValueType::Array;
  v.element_type = element_type;
  v.integers = std::move(values);
  set(key, std::move(v));
}

void GgufWriter::setFloat32Array(const std::string& key, const std::vector<float>& values) {
  MetaValue v;
  v.type = ValueType::Array;
  v.element_type = ValueType::Float32;
  v.reals.assign(values.begin(), values.end());
  set(key, std::move(v));
}

void GgufWriter::setAlignment(uint32_t alignment) {
  MetaValue v;
  v.type = ValueType::UInt32;
  v.integer = alignment;
  set("general.alignment", std::move(v));
}

void GgufWriter::addTensor(const std::string& name, uint32_t ggml_type, std::vector<int64_t> ne,
                           std::shared_ptr<const void> owner, const std::byte* bytes, size_t byte_count) {
  const std::string where = "GGUF tensor '" + name + "'";
  require(!name.empty() && name.size() <= kMaxNameBytes,
          where + ": names must be 1 to " + std::to_string(kMaxNameBytes) + " bytes (llama.cpp's GGML_MAX_NAME)");
  require(std::none_of(tensors_.begin(), tensors_.end(), [&](const TensorEntry& t) { return t.name == name; }),
          where + " is added twice");
  require(!ne.empty() && ne.size() <= kMaxDims, where + " has " + std::to_string(ne.size()) +
                                                    " dimensions; GGUF holds 1 to 4");
  const GgmlTypeTraits& traits = ggmlType(ggml_type);
  int64_t numel = 1;
  for (int64_t d : ne) {
    require(d > 0, where + " has a dimension " + std::to_string(d) + "; every dimension must be positive");
    numel *= d;
  }
  require(ne[0] % traits.block_size == 0, where + ": a row of " + std::to_string(ne[0]) + " values is not a whole "
                                              "number of " + traits.name + " blocks of " +
                                              std::to_string(traits.block_size));
  const size_t expected = static_cast<size_t>(numel / traits.block_size) * traits.block_bytes;
  require(byte_count == expected, where + " has " + std::to_string(byte_count) + " bytes; " + traits.name +
                                      " of that shape takes " + std::to_string(expected));
  tensors_.push_back({name, ggml_type, std::move(ne), std::move(owner), bytes, byte_count});
}

void GgufWriter::addTensor(const std::string& name, uint32_t ggml_type, std::vector<int64_t> ne, std::string bytes) {
  auto owned = std::make_shared<std::string>(std::move(bytes));
  const auto* data = reinterpret_cast<const std::byte*>(owned->data());
  const size_t n = owned->size();
  addTensor(name, ggml_type, std::move(ne), std::move(owned), data, n);
}

void GgufWriter::emit(const std::function<void(const void*, size_t)>& sink) const {
  Bytes out(sink);
  out.raw("GGUF", 4);
  out.put<uint32_t>(kVersion);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(metadata_.size());
  for (const Entry& e : metadata_) {
    const MetaValue& v = e.value;
    out.putString(e.key);
    out.put<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type == ValueType::String) {
      out.putString(v.string);
    } else if (v.type == ValueType::Array) {
      out.put<uint32_t>(static_cast<uint32_t>(v.element_type));
      if (v.element_type == ValueType::String) {
        out.put<uint64_t>(v.strings.size());
        for (const std::string& s : v.strings) out.putString(s);
      } else if (v.element_type == ValueType::Float32 || v.element_type == ValueType::Float64) {
        out.put<uint64_t>(v.reals.size());
        for (double r : v.reals) out.scalar(v.element_type, 0, r);
      } else {
        out.put<uint64_t>(v.integers.size());
        for (int64_t i : v.integers) out.scalar(v.element_type, i, 0);
      }
    } else {
      out.scalar(v.type, v.integer, v.real);
    }
  }
  uint64_t offset = 0;
  for (const TensorEntry& t : tensors_) {
    out.putString(t.name);
    out.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) out.put<uint64_t>(static_cast<uint64_t>(d));
    out.put<uint32_t>(t.type);
    out.put<uint64_t>(offset);
    offset += (t.bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  out.padTo(alignment_);
  for (const TensorEntry& t : tensors_) {
    out.raw(t.data, t.bytes);
    out.padTo(alignment_);
  }
}

std::string GgufWriter::bytes() const {
  std::string s;
  emit([&](const void* p, size_t n) { s.append(static_cast<const char*>(p), n); });
  return s;
}

uint64_t GgufWriter::write(const std::string& path) const {
  AtomicFile file(path);
  uint64_t size = 0;
  emit([&](const void* p, size_t n) {
    file.write(p, n);
    size += n;
  });
  file.commit();
  return size;
}

}  // namespace slmc::gguf
