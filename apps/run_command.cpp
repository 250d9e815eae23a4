// slmc run model.slmc [-p PROMPT [--chat] | --prompt-ids 1,2,3] [-n 64] [--temperature T] [--top-k K]
//          [--top-p P] [--seed S] [--tokenizer PATH] [--ignore-eos]
// Generates text with the runtime (runtime/transformer.h, no LibTorch). The prompt is encoded
// with the pack's embedded tokenizer (or --tokenizer) and prefilled in batches; each new token is
// sampled (runtime/sampler.h) and fed back one at a time. stdout gets the text (or, with
// --prompt-ids, the ids); stderr gets the speed. Generation stops at the model's EOS token
// unless --ignore-eos.
// --chat wraps the prompt as one user message in the model's chat template (tokenizer_config.json's
// chat_template, datasets/chat_template.h), prints only the reply, and also stops at the template's
// end-of-turn token (the config's eos_token, e.g. <|im_end|> for ChatML).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "apps/commands.h"
#include "datasets/chat_template.h"
#include "datasets/tokenizer.h"
#include "lib/format/pack_reader.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "runtime/sampler.h"
#include "runtime/transformer.h"

namespace slmc {

// ---------------------------------------------------------------------------------------------
// slmc run

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_ids;
  std::string tokenizer;
  int64_t steps = 64;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 0.9;
  uint64_t seed = 0;
  bool ignore_eos = false;
  bool chat = false;
};

std::vector<int32_t> parseIds(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == item.size() && !item.empty() && v >= 0 && v <= INT32_MAX,
            "--prompt-ids: '" + item + "' is not a token id (give comma-separated ids, e.g. 1,2,3)");
    ids.push_back(static_cast<int32_t>(v));
  }
  require(!ids.empty(), "--prompt-ids is empty (give comma-separated ids, e.g. 1,2,3)");
  return ids;
}

// Whether `text` does not end inside a UTF-8 multi-byte character.
bool endsOnCharacter(const std::string& text) {
  size_t i = text.size(), continuation = 0;
  while (i > 0 && continuation < 4 && (static_cast<unsigned char>(text[i - 1]) & 0xC0) == 0x80) --i, ++continuation;
  if (i == 0) return continuation == 0;
  const unsigned char lead = static_cast<unsigned char>(text[i - 1]);
  const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return continuation + 1 >= length;
}

void runRun(const RunOptions& o, const CommonOptions& common) {
  require(o.steps >= 1, "-n " + std::to_string(o.steps) + ": generate at least 1 token");
  runtime::SamplerOptions sopts;
  sopts.temperature = o.temperature;
  sopts.top_k = o.top_k;
  sopts.top_p = o.top_p;
  sopts.seed = o.seed;
  const std::string problem = runtime::checkSamplerOptions(sopts);
  require(problem.empty(), problem);
  runtime::setRuntimeThreads(common.threads);

  runtime::Transformer model = openPackForRuntime(o.model);
  const ModelConfig& c = model.config();

  // The prompt: ids as given, or the text as the tokenizer encodes it by default (BOS first when
  // it adds one), or BOS alone.
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_path;
  if (o.prompt_ids.empty()) {
    const std::string path = o.tokenizer.empty() ? packTokenizerPath(model.pack()) : o.tokenizer;
    tokenizer_path = path;
    require(!path.empty(), "pack '" + o.model + "' carries no tokenizer: pass --tokenizer PATH, or give the prompt as "
                           "--prompt-ids 1,2,3");
    tokenizer = loadTokenizer(path);
    require(tokenizer->vocabSize() <= c.vocab_size,
            "tokenizer '" + (o.tokenizer.empty() ? std::string("embedded in the pack") : o.tokenizer) + "' has " +
                std::to_string(tokenizer->vocabSize()) + " tokens but the model's vocabulary is " +
                std::to_string(c.vocab_size) + " (use the tokenizer the model was trained with)");
  }
  std::vector<int32_t> prompt;
  std::vector<int32_t> stop_ids = {static_cast<int32_t>(c.eos_token_id)};
  if (o.chat) {
    require(!o.prompt.empty(), "--chat needs the user's message as --prompt TEXT");
    const ChatTemplateConfig chat = readChatTemplateConfig(tokenizer_path);
    require(!chat.chat_template.empty(),
            (o.tokenizer.empty() ? "pack '" + o.model + "'" : "tokenizer '" + o.tokenizer + "'") +
                " has no chat template (tokenizer_config.json chat_template): run without --chat, or pass --tokenizer "
                "DIR whose tokenizer_config.json has one");
    const std::string text =
        applyChatTemplate(chat.chat_template, {{"user", o.prompt}}, /*add_generation_prompt=*/true, chat.bos_token,
                          chat.eos_token);
    // The template writes BOS itself when it starts with it; encoding must not add a second one.
    const bool template_wrote_bos = !chat.bos_token.empty() && text.rfind(chat.bos_token, 0) == 0;
    prompt = tokenizer->encode(text, /*add_bos=*/!template_wrote_bos);
    if (tokenizer->eosId() >= 0) stop_ids.push_back(tokenizer->eosId());  // the config's eos_token: end of turn
  } else if (!o.prompt_ids.empty()) {
    prompt = parseIds(o.prompt_ids);
  } else if (!o.prompt.empty()) {
    prompt = tokenizer->encode(o.prompt, tokenizer->addsBosByDefault());
  }
  if (prompt.empty()) prompt.push_back(static_cast<int32_t>(c.bos_token_id));
  const int64_t total = static_cast<int64_t>(prompt.size()) + o.steps;
  require(total <= model.context(), "prompt (" + std::to_string(prompt.size()) + " tokens) plus -n " +
                                        std::to_string(o.steps) + " exceed the model's context of " +
                                        std::to_string(model.context()) + " tokens (generate fewer tokens)");

  runtime::Sampler sampler(c.vocab_size, sopts);
  std::vector<int32_t> tokens = prompt;
  std::string printed;
  const auto emit = [&](bool final) {
    if (!tokenizer) return;
    const std::string text = tokenizer->decode(tokens);
    // Print what the new token added; wait while a multi-byte character is incomplete.
    if (text.compare(0, printed.size(), printed) == 0 && (final || endsOnCharacter(text))) {
      std::fwrite(text.data() + printed.size(), 1, text.size() - printed.size(), stdout);
      std::fflush(stdout);
      printed = text;
    }
  };
  if (o.chat && tokenizer) {
    printed = tokenizer->decode(tokens);  // the reply only, not the template's text
  } else {
    emit(false);
  }

  const auto t0 = std::chrono::steady_clock::now();
  const float* logits = model.prefill(prompt.data(), static_cast<int64_t>(prompt.size()));
  const auto t1 = std::chrono::steady_clock::now();
  int64_t generated = 0;
  for (int64_t i = 0; i < o.steps; ++i) {
    const int32_t next = sampler.sample(logits);
    tokens.push_back(next);
    ++generated;
    emit(false);
    if (!o.ignore_eos && std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
    if (i + 1 < o.steps) logits = model.step(next);
  }
  const auto t2 = std::chrono::steady_clock::now();
  emit(true);
  if (tokenizer) {
    std::printf("\n");
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) std::printf("%s%d", i ? " " : "", tokens[i]);
    std::printf("\n");
  }
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "prompt %zu tokens %.1f tokens/s, generated %lld tokens %.1f tokens/s\n", prompt.size(),
               static_cast<double>(prompt.size()) / prefill_s, static_cast<long long>(generated),
               static_cast<double>(generated) / gen_s);
}

}  // namespace

void setupRun(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a .slmc pack with the runtime (no LibTorch)");
  sub->add_option("model", opts->model, ".slmc pack (slmc export)")->required();
  CLI::Option* prompt = sub->add_option("-p,--prompt", opts->prompt, "prompt text (default: BOS alone)");
  CLI::Option* ids =
      sub->add_option("--prompt-ids", opts->prompt_ids, "prompt as token ids, e.g. 1,2,3 (prints ids, no tokenizer)");
  prompt->excludes(ids);
  sub->add_flag("--chat", opts->chat,
                "wrap --prompt as a user message in the model's chat template and stop at its end-of-turn token")
      ->needs(prompt);
  sub->add_option("-n,--steps", opts->steps, "tokens to generate");
  sub->add_option("--temperature", opts->temperature, "sampling temperature (0: greedy)");
  sub->add_option("--top-k", opts->top_k, "sample among the k most likely tokens (0: all)");
  sub->add_option("--top-p", opts->top_p, "nucleus: the most likely tokens holding this probability (1: all)");
  sub->add_option("--seed", opts->seed, "sampling seed (same seed, same text)");
  sub->add_option("--tokenizer", opts->tokenizer, "tokenizer file (default: the one embedded in the pack)");
  sub->add_flag("--ignore-eos", opts->ignore_eos, "keep generating after the end-of-sequence token");
  sub->callback([opts, &common, ids] {
    // Given but empty is a mistake about the ids, not a request for the tokenizer.
    require(!ids->count() || !opts->prompt_ids.empty(), "--prompt-ids is empty (give comma-separated ids, e.g. 1,2,3)");
    runRun(*opts, common);
  });
}

}  // namespace slmc
