// Placeholder until the tokenizer implementations land (issue 3): keeps slmc_datasets non-empty.
#include "datasets/tokenizer.h"

#include "lib/error.h"

namespace slmc {

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& path) {
  throw Error("cannot load tokenizer '" + path + "': tokenizers are not implemented yet");
}

}  // namespace slmc
