#include "lib/format/checkpoint.h"

#include <filesystem>

#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/format/llama2c.h"
#include "lib/format/pack_reader.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {
bool namesHfFile(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name == "config.json" || endsWith(name, ".safetensors");
}
}  // namespace

std::string modelLocation(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec) || !namesHfFile(path)) return path;
  return fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string();
}

Model loadModel(const std::string& path) {
  std::error_code ec;
  require(fs::exists(path, ec), "model '" + path + "' does not exist (check the path)");
  const std::string name = fs::path(path).filename().string();
  Model model;
  if (fs::is_directory(path, ec))
    model = loadHfDirectory(path);
  else if (namesHfFile(path))
    model = loadHfDirectory(modelLocation(path));
  else if (looksLikePack(path) || endsWith(name, ".slmc"))  // a .slmc without the magic gets the pack's error
    model = loadPackAsModel(path);
  else if (gguf::looksLikeGguf(path) || endsWith(name, ".gguf"))  // a .gguf without the magic gets GGUF's error
    model = gguf::loadGgufModel(path);
  else if (looksLikeLlama2c(path) || endsWith(name, ".bin"))  // a .bin gets llama2.c's error naming the field
    model = loadLlama2c(path);
  else
    throw Error("'" + path + "' is not a model slmc can read (expected a Hugging Face directory with config.json + "
              "model.safetensors, a llama2.c .bin checkpoint, a llama.cpp .gguf, or a .slmc pack)");
  validateModel(model);
  return model;
}

}  // namespace slmc
