// Picks the tokenizer reader from the path: a directory holding tokenizer.json (or
// tokenizer.bin), a *.json file, or anything else read as llama2.c's tokenizer.bin.
#include <filesystem>

#include "datasets/hf_tokenizer.h"
#include "datasets/llama2c_tokenizer.h"
#include "datasets/tokenizer.h"
#include "lib/error.h"

namespace slmc {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path) {
  require(fs::exists(path), "tokenizer '" + path +
                                "' does not exist; pass a tokenizer.json, a llama2.c tokenizer.bin or a model "
                                "directory that holds one");
  std::string file = path;
  if (fs::is_directory(path)) {
    const fs::path dir(path);
    if (fs::is_regular_file(dir / "tokenizer.json")) {
      file = (dir / "tokenizer.json").string();
    } else if (fs::is_regular_file(dir / "tokenizer.bin")) {
      file = (dir / "tokenizer.bin").string();
    } else {
      throw Error("directory '" + path + "' holds no tokenizer.json or tokenizer.bin" +
                  (fs::exists(dir / "tokenizer.model")
                       ? std::string("; its SentencePiece tokenizer.model is not read: convert it to tokenizer.json "
                                     "with transformers (LlamaTokenizerFast) or to tokenizer.bin with llama2.c")
                       : std::string("; pass the tokenizer file itself")));
    }
  }
  const std::string ext = fs::path(file).extension().string();
  if (ext == ".json") return HfBpeTokenizer::load(file);
  require(ext != ".model", "tokenizer '" + file +
                               "' is a SentencePiece protobuf, which slmc does not read; convert it to tokenizer.json "
                               "with transformers (LlamaTokenizerFast) or to tokenizer.bin with llama2.c");
  return Llama2cTokenizer::load(file);
}

}  // namespace slmc
