// libFuzzer target over the GGUF reader and llama import: any bytes must either load or be
// rejected with slmc::Error; every other exception, crash, leak or sanitizer report is a bug.
// Each input that opens has every tensor dequantized (bounds of the block walkers) and goes
// through the llama import and validateModel, as `slmc inspect model.gguf` would.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/model/model.h"
#include "lib/support/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slmc;
  // An owned copy: the reader keeps pointers into the bytes for as long as the file lives.
  auto bytes = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  try {
    const auto file = gguf::GgufFile::fromBytes(bytes, reinterpret_cast<const std::byte*>(bytes->data()),
                                                bytes->size(), "fuzz.gguf");
    for (const auto& t : file->tensors()) {
      try {
        gguf::dequantizeTensor(t);
      } catch (const Error&) {
      }
    }
    try {
      validateModel(gguf::ggufToModel(*file));
    } catch (const Error&) {
    }
  } catch (const Error&) {
  }
  return 0;
}
