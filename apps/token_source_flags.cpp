#include "apps/token_source_flags.h"

namespace slmc {

void addTokenSourceFlags(CLI::App* sub, TokenSourceOptions& source, const std::string& data_names,
                         const std::string& tokenizer_help) {
  CLI::Option* tokens = sub->add_option("--tokens", source.tokens,
                                        "token ids: .txt (one id per line) or .u32 (raw uint32 little-endian)");
  CLI::Option* data = sub->add_option(data_names, source.data,
                                      "text file, directory of .txt/.jsonl, or data.h5 from `slmc dataset build`");
  tokens->excludes(data);
  sub->add_option("--tokenizer", source.tokenizer, tokenizer_help);
  sub->add_option("--data-format", source.text_format, "text --data format: auto, text, lines, paragraphs, jsonl")
      ->check(CLI::IsMember({"auto", "text", "lines", "paragraphs", "jsonl"}));
  sub->add_option("--field", source.field, "JSONL field holding the text");
  sub->add_option("--tokens-format", source.tokens_format, "auto (by extension), text or u32")
      ->check(CLI::IsMember({"auto", "text", "u32"}));
  sub->add_option("--max-tokens", source.max_tokens, "use only the first K tokens (0: all)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace slmc
