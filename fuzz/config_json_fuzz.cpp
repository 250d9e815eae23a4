// libFuzzer target over the Hugging Face config.json reader: any text must either parse into a
// config that passes validate() or be rejected with slmc::Error; every other exception, crash or
// sanitizer report is a bug. A config that parses is then bounded against a small weight budget
// (checkConfigFitsWeights), as loadHfDirectory does before it sizes anything from it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/model/config_bounds.h"
#include "lib/model/model.h"
#include "lib/model/model_config.h"
#include "lib/support/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slmc;
  try {
    const ModelConfig c = parseHfConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    checkConfigFitsWeights(c, 64, 1 << 20, "fuzz/config.json");
    (void)expectedTensors(c);  // bounded by the check above
    (void)hfConfigJson(c);
  } catch (const Error&) {
  }
  return 0;
}
