// slmc run --chat end to end on a stories260K pack with a ChatML tokenizer (written by
// gguf::hfTokenizerFiles: the 256 byte pieces, <|im_start|>, fillers, <|im_end|>).
#include <doctest/doctest.h>

#include "datasets/byte_level.h"
#include "lib/format/gguf/gguf_tokenizer.h"
#include "tests/test_support.h"

using namespace slmc::test;

namespace {

constexpr const char* kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// 512 tokens, as stories260K's vocabulary. <|im_end|> sits at 288: the id stories260K picks
// greedily after the rendered prompt for "hi", so a greedy run ends its turn on the first token.
void writeChatMlTokenizer(const std::string& dir, const std::string& chat_template) {
  slmc::gguf::GgufTokenizerMetadata m;
  m.model = "gpt2";
  m.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) m.tokens.push_back(slmc::bytePiece(static_cast<unsigned char>(b)));
  for (int id = 256; id < 512; ++id) m.tokens.push_back("<filler" + std::to_string(id) + ">");
  m.token_types.assign(512, slmc::gguf::kTokenNormal);
  m.tokens[256] = "<|im_start|>";
  m.tokens[288] = "<|im_end|>";
  m.token_types[256] = m.token_types[288] = slmc::gguf::kTokenControl;
  m.bos_id = 256;  // as SmolLM2: BOS is <|im_start|>, which the template writes itself
  m.eos_id = 288;
  m.add_bos = false;
  m.chat_template = chat_template;
  const auto files = slmc::gguf::hfTokenizerFiles(m, "synthetic");
  std::filesystem::create_directories(dir);
  writeFile(dir + "/tokenizer.json", files.tokenizer_json);
  writeFile(dir + "/tokenizer_config.json", files.tokenizer_config_json);
}

}  // namespace

TEST_CASE("cli run --chat: ChatML template, BOS written once, stops at the end-of-turn token") {
  ScratchDir dir("cli-chat");
  CommandResult r = runSlmc("-q export " + stories260K() + " -o " + dir / "s.slmc");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  writeChatMlTokenizer(dir / "chatml", kChatMl);
  const std::string run = "run " + dir / "s.slmc" + " --tokenizer " + dir / "chatml" + " -n 3 --temperature 0 ";

  // "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n": 1 + 7 + 1 + 1 + 1 + 10 ids, no second BOS.
  r = runSlmc(run + "--chat -p hi");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(r.err.find("prompt 21 tokens") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("generated 1 tokens") != std::string::npos, r.err);
  CHECK(r.out == "\n");  // the reply only: <|im_end|> prints nothing

  r = runSlmc(run + "--chat -p hi --ignore-eos");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(r.err.find("generated 3 tokens") != std::string::npos, r.err);
  // The two tokens after <|im_end|> are printed, and nothing of the template before them.
  CHECK_MESSAGE(r.out.size() > 1, "reply: [" << r.out << "]");
  CHECK(r.out.find("assistant") == std::string::npos);

  // Without --chat the same text is a plain prompt, encoded as the tokenizer does by default.
  r = runSlmc(run + "-p hi");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // The ChatML tokenizer adds no BOS by default (add_bos_token false): its bytes only.
  CHECK_MESSAGE(r.err.find("prompt 2 tokens") != std::string::npos, r.err);  // 'h', 'i'
}

TEST_CASE("cli run --chat: no template, an unsupported template, or no prompt is one clear error") {
  ScratchDir dir("cli-chat-bad");
  REQUIRE(runSlmc("-q export " + stories260K() + " -o " + dir / "s.slmc").exit_code == 0);
  const std::string run = "run " + dir / "s.slmc" + " -n 2 --chat -p hi --tokenizer ";
  writeChatMlTokenizer(dir / "plain", "");
  expectError(runSlmc(run + dir / "plain"), "has no chat template (tokenizer_config.json chat_template)");
  writeChatMlTokenizer(dir / "macro", "{% macro m() %}{% endmacro %}");
  expectError(runSlmc(run + dir / "macro"),
              "chat template uses 'macro', which slmc does not implement; pass a plain prompt without --chat");
  // The pack itself carries no tokenizer.
  expectError(runSlmc("run " + dir / "s.slmc" + " --chat -p hi"), "carries no tokenizer");
  CHECK(runSlmc("run " + dir / "s.slmc" + " --chat --prompt-ids 1").exit_code == 2);  // --chat needs --prompt
}
