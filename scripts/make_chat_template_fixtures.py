#!/usr/bin/env python3
"""Golden renderings of chat templates for tests/test_chat_template.cpp, made once with Python jinja2.

Never on the product's path. Renders as transformers' apply_chat_template does: an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, variables messages,
add_generation_prompt, bos_token, eos_token.

    pip install jinja2
    python3 scripts/make_chat_template_fixtures.py --models ../shared/models \
        --out tests/fixtures/chat_templates/goldens.json
"""
import argparse
import json
import os

from jinja2.sandbox import ImmutableSandboxedEnvironment

# Qwen2-Instruct's ChatML template, with its default system message.
QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Llama 2's [INST] format in the subset slmc implements (Meta's own template slices messages[1:]
# and calls raise_exception and .strip(); the test checks that one is refused by name).
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% endif %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% elif message['role'] == 'user' %}"
    "{% if loop.index0 == 1 and system_message is defined %}"
    "{{ bos_token + '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] | trim + ' [/INST]' }}"
    "{% else %}{{ bos_token + '[INST] ' + message['content'] | trim + ' [/INST]' }}{% endif %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
# Zephyr / TinyLlama-Chat: one tag per line, so trim_blocks and lstrip_blocks matter.
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
# Meta-Llama-3-8B-Instruct's template, as published.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# The rest of the subset: comments, whitespace control, indentation, ~, in / not in, length,
# loop.index / loop.last / loop.length, is (not) defined, attribute access, or / and / not.
FEATURES = """{#- a comment -#}
{%- set greeting = 'n=' ~ messages | length -%}
{{ greeting }}
{% for m in messages %}
    {% if 'sys' in m.role or m.role not in ['user', 'assistant'] %}
  [{{ loop.index }}/{{ loop.length }} SYSTEM] {{- m.content | trim -}} ;
    {% elif not (m.role == 'user') and m.content is defined %}
  [{{ loop.index0 }} A] {{ m.content ~ (undefined_thing is not defined) }}
    {% else %}
  [U] {{ m['content'] }}{% if loop.last %} (last){% endif %}

    {% endif %}
{% endfor %}
{%- if add_generation_prompt and bos_token != eos_token %}<gen>{{ bos_token }}{% endif -%}
   tail
"""

CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hi there!"}],
    "system_user": [
        {"role": "system", "content": "You are terse. "},
        {"role": "user", "content": "  What is 2+2?\n"},
    ],
    "user_assistant_user": [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": " Blue. "},
        {"role": "user", "content": "Another, with ünïcödé ✓?"},
    ],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.models, "smollm2-135m-instruct", "tokenizer_config.json")) as f:
        smollm2 = json.load(f)["chat_template"]
    templates = {
        "smollm2": (smollm2, "<|im_start|>", "<|im_end|>"),
        "qwen2": (QWEN2, "", "<|im_end|>"),
        "llama2": (LLAMA2, "<s>", "</s>"),
        "zephyr": (ZEPHYR, "<s>", "</s>"),
        "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
        "features": (FEATURES, "<s>", "</s>"),
    }
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    cases = []
    for name, (template, bos, eos) in templates.items():
        compiled = env.from_string(template)
        for conv_name, messages in CONVERSATIONS.items():
            for gen in (False, True):
                cases.append({
                    "template": name, "conversation": conv_name, "add_generation_prompt": gen,
                    "expected": compiled.render(messages=messages, add_generation_prompt=gen,
                                                bos_token=bos, eos_token=eos),
                })
    out = {
        "templates": {k: {"template": t, "bos_token": b, "eos_token": e} for k, (t, b, e) in templates.items()},
        "conversations": CONVERSATIONS,
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
