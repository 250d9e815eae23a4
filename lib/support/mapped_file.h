// A read-only memory map of a whole file. Checkpoint tensors point into it, so loading costs no
// copy; the map lives as long as the last tensor that views it (shared_ptr ownership).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace slmc {

class MappedFile {
 public:
  // Throws Error naming the path when the file is missing, unreadable or a directory.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const std::byte* data_;
  size_t size_;
};

}  // namespace slmc
