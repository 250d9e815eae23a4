// libFuzzer target over the safetensors reader: the bytes are written to a file (the reader
// maps files) and read; anything must load or be rejected with slmc::Error. Each tensor that
// loads is read whole (toFloats), so a view past the data section would be caught by ASan.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "lib/format/safetensors.h"
#include "lib/support/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slmc;
  static const std::string path = "/tmp/slmc-fuzz-" + std::to_string(::getpid()) + ".safetensors";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const NamedTensors t = readSafetensors(path);
    for (const auto& [name, tensor] : t.tensors)
      if (tensor.numel() <= (1 << 16)) (void)tensor.toFloats();
  } catch (const Error&) {
  }
  return 0;
}
