// libFuzzer target over the llama2.c checkpoint reader: the bytes are written to a file and
// loaded as loadModel would (detection, header, weights, validateModel); anything must load or
// be rejected with slmc::Error. Inputs are small, so a header claiming large sizes must be
// refused from the file size before anything is allocated (the -rss_limit_mb catches that).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "lib/format/llama2c.h"
#include "lib/model/model.h"
#include "lib/support/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slmc;
  static const std::string path = "/tmp/slmc-fuzz-" + std::to_string(::getpid()) + ".bin";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    (void)looksLikeLlama2c(path);
    validateModel(loadLlama2c(path));
  } catch (const Error&) {
  }
  return 0;
}
