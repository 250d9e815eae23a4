#include "datasets/token_dataset_h5.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "lib/error.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {
constexpr const char* kIds = "/input_ids";
constexpr const char* kProvenance = "provenance";

// HDF5 prints its own error stack to stderr by default; slmc reports one line of its own.
void silenceHdf5() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

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

void check(herr_t status, const std::string& what) { require(status >= 0, what); }

void writeContents(const std::string& file_path, const std::string& target, const TokenDataset& d) {
  const std::string fail = "writing '" + target + "' failed (disk full or not writable?)";
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  check(H5Pset_obj_track_times(fcpl.get(), false), fail);  // root group: no timestamps
  Handle file(H5Fcreate(file_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  require(file.ok(), "cannot write '" + target + "' (check that the directory is writable)");

  const hsize_t dims[2] = {static_cast<hsize_t>(d.num_samples), static_cast<hsize_t>(d.seq_len)};
  Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  check(H5Pset_obj_track_times(dcpl.get(), false), fail);
  Handle dataset(H5Dcreate2(file.get(), kIds, H5T_STD_I32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                 H5Dclose);
  require(dataset.ok(), fail);
  check(H5Dwrite(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.input_ids.data()), fail);

  const std::string json = d.provenance.is_null() ? std::string("{}") : d.provenance.dump();
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  check(H5Tset_size(type.get(), json.size() + 1), fail);
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), fail);
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), fail);
  Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(file.get(), kProvenance, type.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  require(attr.ok(), fail);
  check(H5Awrite(attr.get(), type.get(), json.c_str()), fail);
  require(attr.close() && dataset.close() && file.close(), fail);
}

std::string readStringAttribute(hid_t object, const char* name, const std::string& path) {
  const std::string bad = path + ": attribute '" + name + "' is not a readable string";
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  require(attr.ok(), bad);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  require(type.ok() && H5Tget_class(type.get()) == H5T_STRING, bad);
  Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
  // HDF5 does not convert between character sets: read in the one the file uses.
  check(H5Tset_cset(memtype.get(), H5Tget_cset(type.get())), bad);
  if (H5Tis_variable_str(type.get()) > 0) {
    check(H5Tset_size(memtype.get(), H5T_VARIABLE), bad);
    char* text = nullptr;
    check(H5Aread(attr.get(), memtype.get(), &text), bad);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const size_t size = H5Tget_size(type.get());
  check(H5Tset_size(memtype.get(), size + 1), bad);  // + 1: room for the terminator
  std::string value(size + 1, '\0');
  check(H5Aread(attr.get(), memtype.get(), value.data()), bad);
  value.resize(std::strlen(value.c_str()));
  return value;
}
}  // namespace

bool isHdf5File(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  return in.read(head, 8) && std::memcmp(head, kSignature, 8) == 0;
}

void writeTokenDatasetH5(const std::string& path, const TokenDataset& d) {
  silenceHdf5();
  require(d.num_samples >= 1 && d.seq_len >= 1,
          "cannot write '" + path + "': a token dataset needs at least one sample");
  require(d.input_ids.size() == static_cast<size_t>(d.num_samples * d.seq_len),
          "cannot write '" + path + "': " + std::to_string(d.input_ids.size()) + " ids do not fill [" +
              std::to_string(d.num_samples) + ", " + std::to_string(d.seq_len) + "]");
  const fs::path parent = fs::path(path).parent_path();
  require(parent.empty() || fs::is_directory(parent),
          "cannot write '" + path + "': directory '" + parent.string() + "' does not exist (create it first)");
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  try {
    writeContents(temp, path, d);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw Error("cannot rename '" + temp + "' to '" + path + "': " + std::strerror(errno));
  }
}

TokenDataset readTokenDatasetH5(const std::string& path) {
  silenceHdf5();
  require(fs::exists(path), "token dataset '" + path + "' does not exist (check the path)");
  require(isHdf5File(path), path + ": not an HDF5 file (expected the output of `slmc dataset build`)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  require(file.ok(), path + ": cannot open the HDF5 file (truncated or damaged?)");
  const std::string expected = "expected int32 /input_ids [num_samples, seq_len] as written by `slmc dataset build`";
  require(H5Lexists(file.get(), "input_ids", H5P_DEFAULT) > 0, path + ": no /input_ids dataset (" + expected + ")");
  Handle dataset(H5Dopen2(file.get(), kIds, H5P_DEFAULT), H5Dclose);
  require(dataset.ok(), path + ": /input_ids is not a dataset (" + expected + ")");

  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  require(type_class == H5T_INTEGER, path + ": /input_ids holds " +
                                         std::string(type_class == H5T_FLOAT ? "floating-point" : "non-integer") +
                                         " values, not token ids (" + expected + ")");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  require(rank == 2, path + ": /input_ids has rank " + std::to_string(rank) + ", not 2 (" + expected + ")");
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  require(dims[0] > 0 && dims[1] > 0, path + ": /input_ids is empty (" + expected + ")");

  TokenDataset d;
  d.num_samples = static_cast<int64_t>(dims[0]);
  d.seq_len = static_cast<int64_t>(dims[1]);
  const size_t n = static_cast<size_t>(dims[0] * dims[1]);
  // Read as int64 (HDF5 converts any integer type) and check every id fits slmc's int32 ids.
  std::vector<int64_t> wide(n);
  require(H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide.data()) >= 0,
          path + ": reading /input_ids failed (truncated or damaged file?)");
  d.input_ids.resize(n);
  for (size_t i = 0; i < n; ++i) {
    require(wide[i] >= 0 && wide[i] <= std::numeric_limits<int32_t>::max(),
            path + ": /input_ids[" + std::to_string(i / dims[1]) + "][" + std::to_string(i % dims[1]) +
                "] = " + std::to_string(wide[i]) + " is not a valid token id");
    d.input_ids[i] = static_cast<int32_t>(wide[i]);
  }
  if (H5Aexists(file.get(), kProvenance) > 0) {
    const std::string text = readStringAttribute(file.get(), kProvenance, path);
    d.provenance = nlohmann::json::parse(text, nullptr, false);
    require(!d.provenance.is_discarded(), path + ": the provenance attribute is not JSON (damaged file?)");
  }
  return d;
}

}  // namespace slmc
