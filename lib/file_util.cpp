#include "lib/file_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/error.h"

namespace slmc {

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open '" + path + "': " + std::strerror(errno) + " (check the path)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace slmc
