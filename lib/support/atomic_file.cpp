#include "lib/support/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/support/error.h"
#include "lib/support/temp_paths.h"

namespace slmc {

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  removeStaleTempPaths(target_);
  temp_ = tempPathFor(target_);
  file_ = std::fopen(temp_.c_str(), "wb");
  if (file_) registerTempPath(temp_);
  if (!file_)
    throw Error("cannot write '" + target_ + "': " + std::strerror(errno) +
                " (check that the directory exists and is writable)");
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
  if (!temp_.empty()) unregisterTempPath(temp_);
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, file_) != n)
    throw Error("write to '" + target_ + "' failed: " + std::strerror(errno) + " (disk full?)");
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw Error("flushing '" + target_ + "' failed: " + std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(temp_.c_str(), target_.c_str()) != 0)
    throw Error("cannot rename '" + temp_ + "' to '" + target_ + "': " + std::strerror(errno));
  committed_ = true;
}

void writeFileAtomically(const std::string& path, const std::string& contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

void writeThroughTempPath(const std::string& path, const std::function<void(const std::string& temp)>& write) {
  removeStaleTempPaths(path);
  const std::string temp = tempPathFor(path);
  const RegisteredTempPath registered(temp);
  try {
    write(temp);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temp.c_str());
    throw Error("cannot rename '" + temp + "' to '" + path + "': " + std::strerror(error));
  }
}

}  // namespace slmc
