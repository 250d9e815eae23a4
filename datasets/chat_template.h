// tokenizer_config.json's chat_template: a small, strict interpreter of the Jinja2 subset that
// chat templates use, rendered as Hugging Face's apply_chat_template does (trim_blocks and
// lstrip_blocks on). Supported: text, {{ expr }}, {# comments #}, {% for x in list %}…{% endfor %}
// with loop.first / last / index / index0 / length, {% if %}/{% elif %}/{% else %}/{% endif %},
// {% set name = expr %}, whitespace control ({%- -%} {{- -}}); expressions: string, integer,
// true/false/none literals, variables, attribute and subscript access, + and ~, == and !=, and /
// or / not, `is [not] defined` / `none`, `[not] in`, filters trim and length. Anything else is
// refused with one error naming the construct, never guessed at.
#pragma once

#include <string>
#include <vector>

namespace slmc {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// Renders `tmpl` with the variables messages, add_generation_prompt, bos_token and eos_token.
// Throws Error naming an unsupported construct ("chat template uses 'macro', which slmc does not
// implement; pass a plain prompt without --chat") or a syntax error and where it is.
std::string applyChatTemplate(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt, const std::string& bos, const std::string& eos);

// What a tokenizer_config.json says about chat: its chat_template (the "default" one of a list of
// named templates) and the text of bos_token / eos_token; "" where absent.
struct ChatTemplateConfig {
  std::string chat_template, bos_token, eos_token;
};
// Reads the tokenizer_config.json beside `tokenizer_path` (a tokenizer file) or inside it (a
// directory); all fields empty when there is none. Throws Error when it is not valid JSON.
ChatTemplateConfig readChatTemplateConfig(const std::string& tokenizer_path);

}  // namespace slmc
