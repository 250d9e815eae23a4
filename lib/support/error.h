// The one error type a user can cause. Library code throws it with a message that names the
// problem and the fix; the CLI boundary catches it, prints one line and exits with 1.
#pragma once

#include <stdexcept>
#include <string>

namespace slmc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) unless `condition` holds. Kept as a function (not a macro) so the
// message is built only by the caller that needs it.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace slmc
