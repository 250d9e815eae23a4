#include "lib/support/output_path.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "lib/support/error.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {

void checkParentWritable(const std::string& path, const std::string& flag) {
  const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  std::error_code ec;
  require(fs::is_directory(parent, ec), flag + " '" + path + "': directory '" + parent.string() +
                                            "' does not exist (create it first or choose another path)");
  require(::access(parent.c_str(), W_OK | X_OK) == 0, flag + " '" + path + "': cannot write into '" +
                                                          parent.string() + "': " + std::strerror(errno) +
                                                          " (choose a writable directory)");
}

bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (a.empty() || b.empty()) return false;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

}  // namespace

void checkOutputDirectory(const std::string& output, const std::string& input, bool force, const std::string& flag) {
  require(!output.empty(), flag + " is empty (give an output directory)");
  std::error_code ec;
  const bool exists = fs::exists(output, ec);
  require(!exists || fs::is_directory(output, ec),
          flag + " '" + output + "' exists and is not a directory (choose another output path)");
  require(force || !sameFile(output, input), flag + " '" + output + "' is the input model: writing there replaces "
                                                 "it (choose another output, or add --force to replace it)");
  require(force || !exists, flag + " '" + output + "' already exists: its old files would mix with the new ones "
                                "(choose a new directory, or add --force to replace it)");
  // --force replaces a model directory; never an arbitrary folder that happens to be named.
  require(!exists || fs::is_empty(output, ec) || fs::is_regular_file(fs::path(output) / "config.json", ec),
          flag + " '" + output + "' is a directory that holds no config.json: slmc replaces only model directories "
                                 "it could have written (choose a new directory)");
  checkParentWritable(output, flag);
}

void checkOutputFile(const std::string& path, const std::string& input, bool force, const std::string& flag) {
  require(!path.empty(), flag + " is empty (give a file path)");
  std::error_code ec;
  require(!fs::is_directory(path, ec), flag + " '" + path + "' is a directory (give a file path)");
  require(force || !sameFile(path, input), flag + " '" + path + "' is the input model: writing there replaces it "
                                              "(choose another output, or add --force to replace it)");
  checkParentWritable(path, flag);
}

}  // namespace slmc
