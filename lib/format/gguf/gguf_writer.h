// Writes GGUF v3 files (llama.cpp's gguf.cpp layout): header, metadata key-value pairs of every
// value type (arrays included), the tensor table, then each tensor's bytes in table order, each
// padded to the alignment. The values use the reader's MetaValue (lib/format/gguf/gguf_file.h), so a
// file written here and read back gives the same values and types. write() is atomic: the file
// appears only when complete (lib/support/atomic_file.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/format/gguf/gguf_file.h"

namespace slmc::gguf {

class GgufWriter {
 public:
  // Metadata, kept in the order first set (set() on an existing key replaces its value in place).
  // Throws Error when an integer does not fit the declared type.
  void set(const std::string& key, MetaValue value);
  void setString(const std::string& key, std::string value);
  void setUInt32(const std::string& key, uint32_t value);
  void setFloat32(const std::string& key, float value);
  void setBool(const std::string& key, bool value);
  void setStringArray(const std::string& key, std::vector<std::string> values);
  void setIntArray(const std::string& key, ValueType element_type, std::vector<int64_t> values);
  void setFloat32Array(const std::string& key, const std::vector<float>& values);
  // general.alignment (a power of two; 32 when never set).
  void setAlignment(uint32_t alignment);

  // A tensor of ggml type `ggml_type` with dimensions `ne` (ne[0] fastest, as GGUF stores them);
  // `bytes` must be exactly the type's size for ne. `owner` keeps the bytes alive until written.
  // Throws Error on a repeated or too long name, more than 4 dimensions, a row that is not a whole
  // number of blocks, or a byte count that does not match.
  void addTensor(const std::string& name, uint32_t ggml_type, std::vector<int64_t> ne,
                 std::shared_ptr<const void> owner, const std::byte* bytes, size_t byte_count);
  void addTensor(const std::string& name, uint32_t ggml_type, std::vector<int64_t> ne, std::string bytes);

  // The whole file, handed to `sink` in order.
  void emit(const std::function<void(const void*, size_t)>& sink) const;
  std::string bytes() const;
  // Writes `path` atomically; returns the file size.
  uint64_t write(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    MetaValue value;
  };
  struct TensorEntry {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::shared_ptr<const void> owner;
    const std::byte* data;
    size_t bytes;
  };
  std::vector<Entry> metadata_;
  std::vector<TensorEntry> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace slmc::gguf
