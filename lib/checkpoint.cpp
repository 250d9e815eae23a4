#include "lib/checkpoint.h"

#include <filesystem>

#include "lib/error.h"
#include "lib/file_util.h"
#include "lib/hf_checkpoint.h"
#include "lib/llama2c.h"

namespace slmc {

namespace fs = std::filesystem;

Model loadModel(const std::string& path) {
  std::error_code ec;
  require(fs::exists(path, ec), "model '" + path + "' does not exist (check the path)");
  if (fs::is_directory(path, ec)) return loadHfDirectory(path);
  const std::string name = fs::path(path).filename().string();
  if (name == "config.json" || endsWith(name, ".safetensors"))
    return loadHfDirectory(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string());
  if (looksLikeLlama2c(path)) {
    Model m = loadLlama2c(path);
    validateModel(m);
    return m;
  }
  throw Error("'" + path + "' is not a model slmc can read (expected a Hugging Face directory with config.json + "
              "model.safetensors, or a llama2.c .bin checkpoint)");
}

}  // namespace slmc
