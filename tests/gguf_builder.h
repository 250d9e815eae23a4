// Builds GGUF files byte by byte for the GGUF tests: well-formed by default, and every field
// overridable, so each test damages exactly one thing (as llama.cpp's test-gguf.cpp does).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace slmc::test {

class GgufBuilder {
 public:
  struct TensorEntry {
    std::string name;
    uint32_t type;  // ggml type id
    std::vector<int64_t> ne;
    std::string data;
    int64_t offset = -1;  // -1: the correct running offset
  };

  uint32_t version = 3;
  uint32_t alignment = 32;
  int64_t claimed_tensor_count = -1;  // -1: the real count

  GgufBuilder& string(const std::string& key, const std::string& value) {
    kv_ += str(key) + u32(8) + str(value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& uint32(const std::string& key, uint32_t value) {
    kv_ += str(key) + u32(4) + u32(value);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& float32(const std::string& key, float value) {
    std::string v(4, '\0');
    std::memcpy(v.data(), &value, 4);
    kv_ += str(key) + u32(6) + v;
    ++kv_count_;
    return *this;
  }
  // Any raw key-value bytes after the key (type id + payload).
  GgufBuilder& raw(const std::string& key, const std::string& type_and_value) {
    kv_ += str(key) + type_and_value;
    ++kv_count_;
    return *this;
  }
  GgufBuilder& tensor(TensorEntry t) {
    tensors_.push_back(std::move(t));
    return *this;
  }
  // F32 tensor of the given dims, every value `fill`.
  GgufBuilder& f32(const std::string& name, std::vector<int64_t> ne, float fill = 0.5f) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::string data(static_cast<size_t>(n) * 4, '\0');
    for (int64_t i = 0; i < n; ++i) std::memcpy(data.data() + 4 * i, &fill, 4);
    return tensor({name, 0, std::move(ne), std::move(data)});
  }

  std::string bytes() const {
    std::string out = "GGUF" + u32(version);
    out += u64(claimed_tensor_count >= 0 ? static_cast<uint64_t>(claimed_tensor_count) : tensors_.size());
    out += u64(kv_count_);
    out += kv_;
    std::string data;
    for (const auto& t : tensors_) {
      out += str(t.name) + u32(static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) out += u64(static_cast<uint64_t>(d));
      out += u32(t.type);
      out += u64(t.offset >= 0 ? static_cast<uint64_t>(t.offset) : data.size());
      data += t.data;
      data.resize((data.size() + alignment - 1) / alignment * alignment, '\0');
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    return out + data;
  }

  static std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
  static std::string u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
  static std::string str(const std::string& s) { return u64(s.size()) + s; }

 private:
  std::string kv_;
  uint64_t kv_count_ = 0;
  std::vector<TensorEntry> tensors_;
};

}  // namespace slmc::test
