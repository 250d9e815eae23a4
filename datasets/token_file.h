// Token-id files for `slmc eval --tokens`: either text with one decimal id per line (blank lines
// ignored) or a raw little-endian uint32 array. The format is chosen by extension: `.txt` is
// text, `.u32` / `.bin` raw; `format` overrides ("text" / "u32").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

std::vector<int32_t> readTokenFile(const std::string& path, const std::string& format = "auto");
void writeTokenFile(const std::string& path, const std::vector<int32_t>& ids, const std::string& format = "auto");

}  // namespace slmc
