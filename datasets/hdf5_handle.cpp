#include "datasets/hdf5_handle.h"

#include <cstring>

#include "lib/support/error.h"

namespace slmc {

void silenceHdf5() {
  static const bool silenced = [] {
    // No library shutdown from exit(): after a failed write (a full disk) a file id can stay open
    // with unflushable metadata, and HDF5's atexit close of it crashed after slmc had printed its
    // error. Every file slmc writes is a temp file closed (or deleted) by its owner anyway.
    // Must precede the first call that initialises the library; later it is a harmless no-op.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

void checkHdf5(herr_t status, const std::string& what) { require(status >= 0, what); }

void writeStringAttribute(hid_t object, const char* name, const std::string& value, const std::string& fail) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  checkHdf5(H5Tset_size(type.get(), value.size() + 1), fail);
  checkHdf5(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), fail);
  checkHdf5(H5Tset_cset(type.get(), H5T_CSET_UTF8), fail);
  Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(object, name, type.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  require(attr.ok(), fail);
  checkHdf5(H5Awrite(attr.get(), type.get(), value.c_str()), fail);
  require(attr.close(), fail);
}

std::string readStringAttribute(hid_t object, const char* name, const std::string& path) {
  const std::string bad = path + ": attribute '" + name + "' is not a readable string";
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  require(attr.ok(), bad);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  require(type.ok() && H5Tget_class(type.get()) == H5T_STRING, bad);
  Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
  // HDF5 does not convert between character sets: read in the one the file uses.
  checkHdf5(H5Tset_cset(memtype.get(), H5Tget_cset(type.get())), bad);
  if (H5Tis_variable_str(type.get()) > 0) {
    checkHdf5(H5Tset_size(memtype.get(), H5T_VARIABLE), bad);
    char* text = nullptr;
    checkHdf5(H5Aread(attr.get(), memtype.get(), &text), bad);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const size_t size = H5Tget_size(type.get());
  checkHdf5(H5Tset_size(memtype.get(), size + 1), bad);  // + 1: room for the terminator
  std::string value(size + 1, '\0');
  checkHdf5(H5Aread(attr.get(), memtype.get(), value.data()), bad);
  value.resize(std::strlen(value.c_str()));
  return value;
}
}  // namespace slmc
