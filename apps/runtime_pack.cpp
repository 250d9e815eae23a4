// The helpers the runtime commands (run, bench, eval and validate of packs) share, declared in
// commands.h: opening a pack for the runtime, and its embedded tokenizer as files. LibTorch-free:
// the front binary (front_main.cpp) links it.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "apps/commands.h"
#include "lib/format/pack_reader.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "runtime/transformer.h"

namespace slmc {

namespace fs = std::filesystem;

runtime::Transformer openPackForRuntime(const std::string& path, int64_t max_context) {
  require(fs::exists(path), "model '" + path + "' does not exist (pass a .slmc pack written by slmc export)");
  // A file named .slmc, or too short for a magic, is a damaged pack: the pack reader names what
  // is wrong with it. Anything else is a model of another format, which export turns into a pack.
  std::error_code ec;
  const bool damaged_pack = !fs::is_directory(path, ec) && (endsWith(path, ".slmc") || fs::file_size(path, ec) < 8);
  require(damaged_pack || (!fs::is_directory(path) && looksLikePack(path)),
          "'" + path + "' is not a .slmc pack; the runtime runs packs only (write one with slmc export " + path +
              " -o model.slmc)");
  return runtime::Transformer::open(path, max_context);
}

namespace {
// Temporary directories holding extracted tokenizers, removed at exit.
struct TempDirs {
  std::vector<std::string> paths;
  ~TempDirs() {
    for (const std::string& p : paths) {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  }
};
TempDirs& tempDirs() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace

std::string packTokenizerPath(const PackFile& pack) {
  if (pack.tokenizerFiles().empty()) return "";
  const fs::path dir = fs::temp_directory_path() /
                       ("slmc-tokenizer-" + std::to_string(::getpid()) + "-" + std::to_string(tempDirs().paths.size()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  tempDirs().paths.push_back(dir.string());
  for (const PackEmbeddedFile& f : pack.tokenizerFiles()) {
    std::ofstream out(dir / fs::path(f.name).filename(), std::ios::binary);
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    require(static_cast<bool>(out), "cannot write the pack's tokenizer to " + dir.string() + " (check TMPDIR)");
  }
  return dir.string();
}

}  // namespace slmc
