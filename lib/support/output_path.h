// Output paths checked before a command starts its work, so a bad -o or --report fails in the
// first second with one line instead of after the model was quantized (or half-written).
#pragma once

#include <string>

namespace slmc {

// A directory artifact at `output` (a Hugging Face directory): refuses a path that exists and is
// not a directory, an existing directory unless `force` (the writer then replaces it whole), the
// input model itself unless `force`, and a missing or unwritable parent directory. `flag` names
// the option in the message ("-o").
void checkOutputDirectory(const std::string& output, const std::string& input, bool force, const std::string& flag = "-o");

// A file artifact at `path` (a pack, a report, a dataset): refuses a directory, the input model
// unless `force`, and a missing or unwritable parent directory.
void checkOutputFile(const std::string& path, const std::string& input, bool force, const std::string& flag);

}  // namespace slmc
