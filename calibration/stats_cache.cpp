#include "calibration/stats_cache.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "datasets/hdf5_handle.h"
#include "lib/support/error.h"
#include "lib/support/temp_paths.h"

namespace slmc {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "slmc-stats-cache";

std::string layerGroup(int64_t layer) {
  char name[32];
  std::snprintf(name, sizeof name, "layer_%03lld", static_cast<long long>(layer));
  return name;
}

void writeFloats(hid_t group, const char* name, const std::vector<float>& values, hsize_t rows, hsize_t cols,
                 const std::string& fail) {
  const hsize_t dims[2] = {rows, cols};
  Handle space(H5Screate_simple(cols > 0 ? 2 : 1, dims, nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(dcpl.get(), false), fail);
  Handle d(H5Dcreate2(group, name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  require(d.ok(), fail);
  if (!values.empty()) checkHdf5(H5Dwrite(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), fail);
}

std::vector<float> readFloats(hid_t group, const char* name, size_t expected, const std::string& where) {
  const std::string bad = where + "/" + name + " is missing or has the wrong size (damaged stats cache: delete it)";
  require(H5Lexists(group, name, H5P_DEFAULT) > 0, bad);
  Handle d(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose);
  require(d.ok(), bad);
  Handle space(H5Dget_space(d.get()), H5Sclose);
  require(static_cast<size_t>(H5Sget_simple_extent_npoints(space.get())) == expected, bad);
  std::vector<float> values(expected);
  if (expected > 0)
    require(H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0, bad);
  return values;
}

hid_t createGroup(hid_t parent, const std::string& name, const std::string& fail) {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  checkHdf5(H5Pset_obj_track_times(gcpl.get(), false), fail);
  const hid_t g = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
  require(g >= 0, fail);
  return g;
}

// The first key field whose value differs, for the error message.
std::string firstDifference(const json& stored, const json& wanted) {
  for (const auto& [field, value] : wanted.items())
    if (!stored.contains(field) || stored[field] != value) return field;
  for (const auto& [field, value] : stored.items())
    if (!wanted.contains(field)) return field;
  return "?";
}

std::string shortValue(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

}  // namespace

// The temporary file being filled; closed (and, unless renamed, deleted) with the cache.
struct StatsCache::Writer {
  std::string temp;
  std::unique_ptr<RegisteredTempPath> registered;  // removed on SIGINT / SIGTERM
  hid_t file = -1;
  bool close() {
    const bool ok = file < 0 || H5Fclose(file) >= 0;
    file = -1;
    return ok;
  }
};

StatsCache::StatsCache(std::string path, json key, int64_t num_layers)
    : path_(std::move(path)), key_(std::move(key)), num_layers_(num_layers) {
  silenceHdf5();
  if (!fs::exists(path_)) return;
  const std::string fix = " (delete it or choose another --stats-cache path)";
  Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  require(file.ok(), "stats cache '" + path_ + "' is not a readable HDF5 file" + fix);
  require(H5Aexists(file.get(), "format") > 0 && readStringAttribute(file.get(), "format", path_) == kFormat,
          "'" + path_ + "' is not an slmc statistics cache" + fix);
  const json stored = json::parse(readStringAttribute(file.get(), "key", path_), nullptr, false);
  require(!stored.is_discarded(), "stats cache '" + path_ + "' has a damaged key" + fix);
  if (stored != key_) {
    const std::string field = firstDifference(stored, key_);
    throw Error("stats cache '" + path_ + "' was computed for another " + field + " (cache: " +
                shortValue(stored.value(field, json())) + ", now: " + shortValue(key_.value(field, json())) + ")" + fix);
  }
  for (int64_t i = 0; i < num_layers_; ++i)
    require(H5Lexists(file.get(), layerGroup(i).c_str(), H5P_DEFAULT) > 0,
            "stats cache '" + path_ + "' has no " + layerGroup(i) + " (incomplete file)" + fix);
  complete_ = true;
}

StatsCache::~StatsCache() {
  if (writer_) {
    writer_->close();
    std::remove(writer_->temp.c_str());  // never finished: leave nothing behind
  }
}

LayerStats StatsCache::load(int64_t layer) const {
  require(complete_, "internal: stats cache '" + path_ + "' has nothing to load");
  Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  require(file.ok(), "stats cache '" + path_ + "' cannot be reopened");
  const std::string group_name = layerGroup(layer);
  Handle group(H5Gopen2(file.get(), group_name.c_str(), H5P_DEFAULT), H5Gclose);
  require(group.ok(), "stats cache '" + path_ + "': no " + group_name);
  LayerStats stats;
  stats.layer = layer;
  const std::string order = readStringAttribute(group.get(), "sites", path_);
  for (const json& site_name : json::parse(order)) {
    const std::string name = site_name.get<std::string>();
    const std::string where = path_ + ":/" + group_name + "/" + name;
    Handle g(H5Gopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Gclose);
    require(g.ok(), where + " is missing (damaged stats cache: delete it)");
    const json meta = json::parse(readStringAttribute(g.get(), "meta", where));
    SiteStats s;
    s.site = name;
    s.linears = meta.at("linears").get<std::vector<std::string>>();
    s.channels = meta.at("channels").get<int64_t>();
    s.tokens = meta.at("tokens").get<int64_t>();
    s.sample_rows = meta.at("sample_rows").get<int64_t>();
    const size_t c = static_cast<size_t>(s.channels);
    s.xtx = readFloats(g.get(), "xtx", c * c, where);
    s.abs_max = readFloats(g.get(), "abs_max", c, where);
    s.abs_sum = readFloats(g.get(), "abs_sum", c, where);
    s.sample = readFloats(g.get(), "sample", static_cast<size_t>(s.sample_rows) * c, where);
    stats.sites.push_back(std::move(s));
  }
  return stats;
}

void StatsCache::store(const LayerStats& stats) {
  require(!complete_, "internal: storing into a complete stats cache");
  const std::string fail = "writing stats cache '" + path_ + "' failed (disk full or not writable?)";
  if (!writer_) {
    const fs::path parent = fs::path(path_).parent_path();
    require(parent.empty() || fs::is_directory(parent),
            "cannot write stats cache '" + path_ + "': directory '" + parent.string() + "' does not exist");
    writer_ = std::make_unique<Writer>();
    removeStaleTempPaths(path_);
    writer_->temp = tempPathFor(path_);
    writer_->registered = std::make_unique<RegisteredTempPath>(writer_->temp);
    Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    checkHdf5(H5Pset_obj_track_times(fcpl.get(), false), fail);
    const hid_t f = H5Fcreate(writer_->temp.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT);
    require(f >= 0, "cannot create stats cache '" + path_ + "' (check that the directory is writable)");
    writer_->file = f;
    writeStringAttribute(f, "format", kFormat, fail);
    writeStringAttribute(f, "key", key_.dump(), fail);
  }
  const hid_t f = writer_->file;
  Handle group(createGroup(f, layerGroup(stats.layer), fail), H5Gclose);
  json order = json::array();
  for (const SiteStats& s : stats.sites) {
    order.push_back(s.site);
    Handle g(createGroup(group.get(), s.site, fail), H5Gclose);
    const json meta = {{"linears", s.linears}, {"channels", s.channels}, {"tokens", s.tokens}, {"sample_rows", s.sample_rows}};
    writeStringAttribute(g.get(), "meta", meta.dump(), fail);
    const hsize_t c = static_cast<hsize_t>(s.channels);
    writeFloats(g.get(), "xtx", s.xtx, c, c, fail);
    writeFloats(g.get(), "abs_max", s.abs_max, c, 0, fail);
    writeFloats(g.get(), "abs_sum", s.abs_sum, c, 0, fail);
    writeFloats(g.get(), "sample", s.sample, static_cast<hsize_t>(s.sample_rows), c, fail);
  }
  writeStringAttribute(group.get(), "sites", order.dump(), fail);
  ++stored_;
}

void StatsCache::save() {
  if (complete_) return;
  require(writer_ && stored_ == num_layers_, "internal: stats cache '" + path_ + "' saved with " +
                                                 std::to_string(stored_) + " of " + std::to_string(num_layers_) +
                                                 " layers");
  require(writer_->close(), "writing stats cache '" + path_ + "' failed (disk full?)");
  if (std::rename(writer_->temp.c_str(), path_.c_str()) != 0)
    throw Error("cannot rename '" + writer_->temp + "' to '" + path_ + "': " + std::strerror(errno));
  writer_.reset();
  complete_ = true;
}

}  // namespace slmc
