// Numbers in messages: "%g" (0.01, 1e-06, 12.5), short enough for one error line.
#pragma once

#include <cstdio>
#include <string>

namespace slmc {

inline std::string formatNumber(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

}  // namespace slmc
