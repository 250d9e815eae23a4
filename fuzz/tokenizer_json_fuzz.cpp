// libFuzzer target over the tokenizer.json reader: any bytes given to HfBpeTokenizer::fromJson
// must either load or be rejected with slmc::Error; what loads must encode a fixed text (added
// tokens, digits, CJK, emoji, whitespace runs) and decode its ids, again throwing nothing but
// slmc::Error. Every other exception, crash, leak or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/hf_tokenizer.h"
#include "lib/support/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kText =
      "Hello, world! 12345 <|endoftext|> caf\xC3\xA9 e\xCC\x81 \xE6\x97\xA5\xE6\x9C\xAC \xED\x95\x9C "
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \t\n  x";
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const auto tok = slmc::HfBpeTokenizer::fromJson(json, "", "fuzz");
    const std::vector<int32_t> ids = tok->encode(kText, true);
    (void)tok->decode(ids);
    (void)tok->encode(kText, false, false);
  } catch (const slmc::Error&) {
  }
  return 0;
}
