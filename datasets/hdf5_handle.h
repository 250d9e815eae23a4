// Small RAII and error helpers over HDF5's C API, shared by every HDF5 file slmc reads or writes
// (token datasets, the calibration statistics cache).
#pragma once

#include <hdf5.h>

#include <string>

namespace slmc {

// HDF5 prints its own error stack to stderr by default; slmc reports one line of its own.
void silenceHdf5();

// Closes an HDF5 handle when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  // Closes now and reports whether closing (which flushes) succeeded.
  bool close() {
    const herr_t status = close_(id_);
    id_ = -1;
    return status >= 0;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Throws Error(what) when an HDF5 call failed.
void checkHdf5(herr_t status, const std::string& what);

// A scalar UTF-8 string attribute on `object`; `fail` is the error message.
void writeStringAttribute(hid_t object, const char* name, const std::string& value, const std::string& fail);
// Reads a fixed or variable-length string attribute; errors name `path`.
std::string readStringAttribute(hid_t object, const char* name, const std::string& path);

}  // namespace slmc
