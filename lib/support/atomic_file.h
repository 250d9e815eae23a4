// Writes an artifact so that a reader never sees half of it: bytes go to a temp file beside the
// target, which is renamed over the target only after a successful flush. On any error (or if
// commit() is never reached) the temp file is removed and the target is untouched.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace slmc {

class AtomicFile {
 public:
  explicit AtomicFile(std::string target);
  ~AtomicFile();  // removes the temp file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  void commit();  // flush, fsync, rename over the target

 private:
  std::string target_;
  std::string temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Whole-file helper for small text artifacts (config.json, reports).
void writeFileAtomically(const std::string& path, const std::string& contents);

// For writers that create the file themselves by name (HDF5): `write` fills the temp path beside
// `path` (registered for removal on a signal; stale ones of killed runs removed first), which is
// then renamed over `path`. If `write` throws, the temp file is removed and `path` is untouched.
void writeThroughTempPath(const std::string& path, const std::function<void(const std::string& temp)>& write);

}  // namespace slmc
