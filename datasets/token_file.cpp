#include "datasets/token_file.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/mapped_file.h"

namespace slmc {

namespace {
std::string resolveFormat(const std::string& path, const std::string& format) {
  if (format == "text" || format == "u32") return format;
  require(format == "auto", "unknown token file format '" + format + "' (use text or u32)");
  if (endsWith(path, ".txt")) return "text";
  if (endsWith(path, ".u32") || endsWith(path, ".bin")) return "u32";
  throw Error("cannot tell the format of token file '" + path +
              "' from its name (use .txt for one id per line, .u32 for raw uint32, or pass --tokens-format)");
}
}  // namespace

std::vector<int32_t> readTokenFile(const std::string& path, const std::string& format) {
  const std::string kind = resolveFormat(path, format);
  auto file = MappedFile::open(path);
  std::vector<int32_t> ids;
  if (kind == "u32") {
    require(file->size() % 4 == 0, path + ": " + std::to_string(file->size()) +
                                       " bytes is not a whole number of uint32 ids (truncated or not a .u32 file)");
    ids.resize(file->size() / 4);
    for (size_t i = 0; i < ids.size(); ++i) {
      uint32_t v;
      std::memcpy(&v, file->data() + 4 * i, 4);
      if (v > 0x7fffffffu)  // not require(): its message would be built for every id
        throw Error(path + ": id " + std::to_string(v) + " at position " + std::to_string(i) + " is too large");
      ids[i] = static_cast<int32_t>(v);
    }
  } else {
    const char* p = reinterpret_cast<const char*>(file->data());
    const char* end = p + file->size();
    int64_t line = 1;
    while (p < end) {
      const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!eol) eol = end;
      std::string text(p, eol);
      while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
      size_t first = text.find_first_not_of(" \t");
      if (first != std::string::npos) {
        text = text.substr(first);
        char* stop = nullptr;
        errno = 0;
        const long long v = std::strtoll(text.c_str(), &stop, 10);
        require(*stop == '\0' && errno == 0 && v >= 0 && v <= 0x7fffffff,
                path + ":" + std::to_string(line) + ": '" + text +
                    "' is not a token id (expected one non-negative integer per line)");
        ids.push_back(static_cast<int32_t>(v));
      }
      p = eol + 1;
      ++line;
    }
  }
  require(!ids.empty(), path + ": no token ids in the file");
  return ids;
}

void writeTokenFile(const std::string& path, const std::vector<int32_t>& ids, const std::string& format) {
  const std::string kind = resolveFormat(path, format);
  AtomicFile file(path);
  if (kind == "u32") {
    for (int32_t id : ids) {
      const uint32_t v = static_cast<uint32_t>(id);
      file.write(&v, 4);
    }
  } else {
    std::ostringstream s;
    for (int32_t id : ids) s << id << '\n';
    file.write(s.str());
  }
  file.commit();
}

}  // namespace slmc
