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
  const std::string name = fs::path(path).filename().string();
  Model model;
  if (fs::is_directory(path, ec))
    model = loadHfDirectory(path);
  else if (name == "config.json" || endsWith(name, ".safetensors"))
    model = loadHfDirectory(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string());
  else if (looksLikeLlama2c(path))
    model = loadLlama2c(path);
  else
    throw Error("'" + path + "' is not a model slmc can read (expected a Hugging Face directory with config.json + "
              "model.safetensors, or a llama2.c .bin checkpoint)");
  validateModel(model);
  return model;
}

}  // namespace slmc
