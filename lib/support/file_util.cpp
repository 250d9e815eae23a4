#include "lib/support/file_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/support/error.h"

namespace slmc {

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open '" + path + "': " + std::strerror(errno) + " (check the path)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  if (s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, i)) {
    out.append(s, i, at - i);
    out += to;
    i = at + from.size();
  }
  out.append(s, i, std::string::npos);
  s = std::move(out);
}

}  // namespace slmc
