// What a pack's metadata holds besides its tensors, shared by the writer (pack_writer.h) and the
// reader (pack_reader.h) so that neither includes the other.
#pragma once

#include <string>

namespace slmc {

// Where a pack came from; stored verbatim in the metadata's "provenance".
struct PackProvenance {
  std::string source;         // the checkpoint path the model was loaded from
  std::string source_sha256;  // checkpointSha256 of checkpointFiles(source), "" when none
  std::string recipe;         // the pipeline that produced the model ("" for a plain export)
  std::string slmc_version;   // lib/support/version.h of the writer
};

// A file carried inside the pack (tokenizer.json, tokenizer.model, ...).
struct EmbeddedFile {
  std::string name;  // base name, no directory
  std::string bytes;
};

}  // namespace slmc
