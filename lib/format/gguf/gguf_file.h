// A GGUF file (llama.cpp's checkpoint format, versions 2 and 3) read by mmap: the metadata
// key-value pairs, the tensor table and pointers to each tensor's bytes. open() validates the
// whole layout at least as strictly as llama.cpp's gguf.cpp loader, so everything after it can
// trust sizes and offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace slmc::gguf {

// GGUF metadata value types (gguf_type), with the ids the file stores.
enum class ValueType : uint32_t {
  UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
  String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
};
const char* valueTypeName(ValueType type);  // "uint32", "string", ...

// One metadata value. Integers (and bools) are held widened to int64, floats to double, so the
// getters need no per-type storage; `type` (and `element_type` for arrays) keeps what the file said.
struct MetaValue {
  ValueType type = ValueType::UInt8;
  ValueType element_type = ValueType::UInt8;  // arrays only
  int64_t integer = 0;                        // integer and bool scalars
  bool integer_overflow = false;              // a uint64 above INT64_MAX (scalar or any array element)
  double real = 0;                            // float scalars
  std::string string;                         // string scalars
  std::vector<int64_t> integers;              // arrays of integers or bools
  std::vector<double> reals;                  // arrays of floats
  std::vector<std::string> strings;           // arrays of strings
  std::string typeName() const;               // "uint32" or "array of string"
};

struct TensorInfo {
  std::string name;
  uint32_t type = 0;          // ggml_type id (lib/format/gguf/gguf_types.h)
  std::vector<int64_t> ne;    // dimensions, ne[0] fastest (the row length): reversed vs PyTorch
  uint64_t offset = 0;        // from the start of the data section
  size_t bytes = 0;           // the tensor's data bytes (no padding)
  const std::byte* data = nullptr;  // into the mapped file
  int64_t numel() const;
};

class GgufFile {
 public:
  static std::shared_ptr<const GgufFile> open(const std::string& path);  // validates; throws slmc::Error
  // The same checks over bytes already in memory (`owner` keeps them alive); `name` stands for
  // the path in messages. For the fuzzer and for tests of damaged files.
  static std::shared_ptr<const GgufFile> fromBytes(std::shared_ptr<const void> owner, const std::byte* data,
                                                   size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  bool has(const std::string& key) const { return metadata_.count(key) != 0; }
  // Absent key: std::nullopt / empty vector. Present with another type: throws Error naming the
  // key and both types. getInt accepts every integer type (not bool); getFloat accepts f32/f64.
  std::optional<std::string> getString(const std::string& key) const;
  std::optional<int64_t> getInt(const std::string& key) const;
  std::optional<double> getFloat(const std::string& key) const;
  std::optional<bool> getBool(const std::string& key) const;
  std::vector<std::string> getStringArray(const std::string& key) const;
  std::vector<int64_t> getIntArray(const std::string& key) const;
  std::vector<float> getFloatArray(const std::string& key) const;
  // Every key in file order, and one value (nullptr when absent).
  const std::vector<std::string>& keys() const { return key_order_; }
  const MetaValue* find(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  const TensorInfo* findTensor(const std::string& name) const;

 private:
  GgufFile() = default;
  void parse(const std::byte* data, size_t size);
  [[noreturn]] void wrongType(const std::string& key, const MetaValue& v, const char* wanted) const;

  std::string path_;
  std::shared_ptr<const void> owner_;  // the mapping (or buffer) the tensor pointers point into
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::map<std::string, MetaValue> metadata_;
  std::vector<std::string> key_order_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Cheap check of the first bytes: does this file start with the GGUF magic?
bool looksLikeGguf(const std::string& path);

}  // namespace slmc::gguf
