// "a, b, c": names listed in one message (known options, passes, recipe keys, the methods that
// take an option). One spelling for every list an error or a help line shows.
#pragma once

#include <string>
#include <vector>

namespace slmc {

inline std::string joinText(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

}  // namespace slmc
