#pragma once

namespace slmc {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace slmc
