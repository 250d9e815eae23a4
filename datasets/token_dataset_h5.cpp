#include "datasets/token_dataset_h5.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "datasets/hdf5_handle.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/temp_paths.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {
constexpr const char* kIds = "/input_ids";
constexpr const char* kProvenance = "provenance";

void writeContents(const std::string& file_path, const std::string& target, const TokenDataset& d) {
  const std::string fail = "writing '" + target + "' failed (disk full or not writable?)";
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(fcpl.get(), false), fail);  // root group: no timestamps
  Handle file(H5Fcreate(file_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  require(file.ok(), "cannot write '" + target + "' (check that the directory is writable)");

  const hsize_t dims[2] = {static_cast<hsize_t>(d.num_samples), static_cast<hsize_t>(d.seq_len)};
  Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(dcpl.get(), false), fail);
  Handle dataset(H5Dcreate2(file.get(), kIds, H5T_STD_I32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                 H5Dclose);
  require(dataset.ok(), fail);
  checkHdf5(H5Dwrite(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.input_ids.data()), fail);

  writeStringAttribute(file.get(), kProvenance, d.provenance.is_null() ? std::string("{}") : d.provenance.dump(),
                       fail);
  require(dataset.close() && file.close(), fail);
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
  writeThroughTempPath(path, [&](const std::string& temp) { writeContents(temp, path, d); });
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
