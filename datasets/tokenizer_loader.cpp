// Picks the tokenizer reader from the path: a directory holding tokenizer.json (or tokenizer.bin,
// or tokenizer.model), a *.json file, a *.model SentencePiece protobuf, or anything else read as
// llama2.c's tokenizer.bin.
#include <filesystem>

#include "datasets/hf_tokenizer.h"
#include "datasets/llama2c_tokenizer.h"
#include "datasets/sentencepiece_model.h"
#include "datasets/tokenizer.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_tokenizer.h"
#include "lib/support/error.h"

namespace slmc {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path) {
  require(fs::exists(path), "tokenizer '" + path +
                                "' does not exist; pass a tokenizer.json, a SentencePiece tokenizer.model, a llama2.c "
                                "tokenizer.bin or a model directory that holds one");
  std::string file = path;
  if (fs::is_regular_file(path) && gguf::looksLikeGguf(path)) {  // the vocabulary inside a GGUF
    const gguf::HfTokenizerFiles files = gguf::hfTokenizerFilesOf(path);
    return HfBpeTokenizer::fromJson(files.tokenizer_json, files.tokenizer_config_json, path);
  }
  if (fs::is_directory(path)) {
    const fs::path dir(path);
    if (fs::is_regular_file(dir / "tokenizer.json")) {
      file = (dir / "tokenizer.json").string();
    } else if (fs::is_regular_file(dir / "tokenizer.bin")) {
      file = (dir / "tokenizer.bin").string();
    } else if (fs::is_regular_file(dir / "tokenizer.model")) {
      // Looked for last, so a directory that loaded before still loads the same tokenizer. A
      // failure names the files looked for too, since the user may have meant one of those.
      try {
        return loadSentencePieceTokenizer((dir / "tokenizer.model").string());
      } catch (const Error& e) {
        throw Error("directory '" + path + "' holds no tokenizer.json or tokenizer.bin, and its tokenizer.model " +
                    "cannot be read: " + e.what());
      }
    } else {
      throw Error("directory '" + path + "' holds no tokenizer.json, tokenizer.bin or tokenizer.model; pass the "
                  "tokenizer file itself");
    }
  }
  const std::string ext = fs::path(file).extension().string();
  if (ext == ".json") return HfBpeTokenizer::load(file);
  if (ext == ".model") return loadSentencePieceTokenizer(file);
  return Llama2cTokenizer::load(file);
}

}  // namespace slmc
