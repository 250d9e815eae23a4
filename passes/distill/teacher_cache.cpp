#include "passes/distill/teacher_cache.h"

#include <hdf5.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "datasets/hdf5_handle.h"
#include "datasets/token_dataset_h5.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/temp_paths.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFingerprint = "fingerprint";

void writeDataset(hid_t file, const char* name, hid_t file_type, hid_t memory_type, const std::vector<hsize_t>& dims,
                  const void* data, const std::string& fail) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(dcpl.get(), false), fail);
  Handle dataset(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  require(dataset.ok(), fail);
  checkHdf5(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), fail);
  require(dataset.close(), fail);
}

void writeContents(const std::string& file_path, const std::string& target, const TeacherTopK& c) {
  const std::string fail = "writing the teacher cache '" + target + "' failed (disk full or not writable?)";
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(fcpl.get(), false), fail);
  Handle file(H5Fcreate(file_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  require(file.ok(), "cannot write the teacher cache '" + target + "' (check that the directory is writable)");
  const auto n = static_cast<hsize_t>(c.sequences), s = static_cast<hsize_t>(c.seq_len),
             k = static_cast<hsize_t>(c.k);
  writeDataset(file.get(), "/input_ids", H5T_STD_I32LE, H5T_NATIVE_INT32, {n, s}, c.input_ids.data(), fail);
  writeDataset(file.get(), "/top_ids", H5T_STD_I32LE, H5T_NATIVE_INT32, {n, s, k}, c.top_ids.data(), fail);
  writeDataset(file.get(), "/top_log_probs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n, s, k}, c.top_log_probs.data(),
               fail);
  writeStringAttribute(file.get(), kFingerprint, c.fingerprint.dump(), fail);
  require(file.close(), fail);
}

// Dataset `name` of `path` with exactly `dims`, read into `out` as `memory_type`.
template <typename T>
void readDataset(hid_t file, const std::string& path, const char* name, hid_t memory_type,
                 const std::vector<hsize_t>& dims, std::vector<T>& out) {
  const std::string what = path + ": teacher cache dataset " + name;
  require(H5Lexists(file, name + 1, H5P_DEFAULT) > 0, what + " is missing (damaged file? delete it to rebuild)");
  Handle dataset(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  require(dataset.ok(), what + " cannot be opened (damaged file? delete it to rebuild)");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  std::vector<hsize_t> found(dims.size(), 0);
  require(H5Sget_simple_extent_ndims(space.get()) == static_cast<int>(dims.size()) &&
              H5Sget_simple_extent_dims(space.get(), found.data(), nullptr) >= 0 && found == dims,
          what + " does not have the shape its fingerprint gives (damaged file? delete it to rebuild)");
  size_t count = 1;
  for (hsize_t d : dims) count *= static_cast<size_t>(d);
  out.resize(count);
  require(H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
          what + " cannot be read (truncated file? delete it to rebuild)");
}

}  // namespace

void writeTeacherCache(const std::string& path, const TeacherTopK& c) {
  silenceHdf5();
  const size_t rows = static_cast<size_t>(c.sequences * c.seq_len);
  require(c.sequences > 0 && c.seq_len > 0 && c.k > 0 && c.input_ids.size() == rows &&
              c.top_ids.size() == rows * static_cast<size_t>(c.k) && c.top_log_probs.size() == c.top_ids.size(),
          "internal: a teacher cache's arrays do not match its shape");
  const fs::path parent = fs::path(path).parent_path();
  require(parent.empty() || fs::is_directory(parent),
          "cannot write the teacher cache '" + path + "': directory '" + parent.string() + "' does not exist");
  writeThroughTempPath(path, [&](const std::string& temp) { writeContents(temp, path, c); });
}

TeacherTopK readTeacherCache(const std::string& path) {
  silenceHdf5();
  require(fs::exists(path), "teacher cache '" + path + "' does not exist");
  require(isHdf5File(path), path + ": not an HDF5 file, so not a teacher cache (give another --teacher-cache path, "
                                   "or delete it to rebuild)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  require(file.ok(), path + ": cannot open the teacher cache (truncated or damaged? delete it to rebuild)");
  require(H5Aexists(file.get(), kFingerprint) > 0,
          path + ": an HDF5 file without a teacher-cache fingerprint (not written by slmc distill)");
  TeacherTopK c;
  c.fingerprint = nlohmann::json::parse(readStringAttribute(file.get(), kFingerprint, path), nullptr, false);
  require(c.fingerprint.is_object() && c.fingerprint.value("schema", "") == kTeacherCacheSchema,
          path + ": its fingerprint is not a " + kTeacherCacheSchema + " record (not written by slmc distill)");
  try {
    c.sequences = c.fingerprint.at("sequences").get<int64_t>();
    c.seq_len = c.fingerprint.at("seq_len").get<int64_t>();
    c.k = c.fingerprint.at("k").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": its fingerprint lacks the cache's shape (damaged file? delete it to rebuild)");
  }
  require(c.sequences > 0 && c.seq_len > 0 && c.k > 0,
          path + ": its fingerprint gives an empty shape (damaged file? delete it to rebuild)");
  const auto n = static_cast<hsize_t>(c.sequences), s = static_cast<hsize_t>(c.seq_len),
             k = static_cast<hsize_t>(c.k);
  readDataset(file.get(), path, "/input_ids", H5T_NATIVE_INT32, {n, s}, c.input_ids);
  readDataset(file.get(), path, "/top_ids", H5T_NATIVE_INT32, {n, s, k}, c.top_ids);
  readDataset(file.get(), path, "/top_log_probs", H5T_NATIVE_FLOAT, {n, s, k}, c.top_log_probs);
  return c;
}

}  // namespace slmc
