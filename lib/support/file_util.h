// Small file and string helpers shared by the readers.
#pragma once

#include <string>
#include <string_view>

namespace slmc {

// Whole file as bytes; throws Error naming the path when it cannot be opened.
std::string readTextFile(const std::string& path);

inline bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
inline bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
// Replaces every occurrence of `from` (not empty) in `s` by `to`, left to right, in one pass.
void replaceAll(std::string& s, const std::string& from, const std::string& to);

}  // namespace slmc
