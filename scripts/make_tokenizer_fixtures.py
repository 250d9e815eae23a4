#!/usr/bin/env python3
"""Tokenizer fixtures and golden ids for slmc's tokenizer tests, made once with the reference libraries.

Never on the product's path: slmc does not need Python. Run it with the reference venv (which needs
`protobuf` for transformers' slow->fast Llama conversion: /opt/slmc-ref/bin/pip install protobuf):

    /opt/slmc-ref/bin/python scripts/make_tokenizer_fixtures.py \
        --models ../shared/models --data ../shared/data --out tests/fixtures/tokenizers

What it writes under --out (plain JSON; the C++ side has no gzip):
  llama2/tokenizer.json         Llama 2's tokenizer.model converted by transformers' LlamaTokenizerFast
                                (legacy=True, add_prefix_space=True): SentencePiece-style BPE with
                                normalizer Prepend("▁") + Replace(" ", "▁"), byte_fallback, merges by rank.
  llama2/tokenizer_config.json  beside it (bos_token, eos_token, add_bos_token).
  bytelevel/tokenizer.json      a real GPT-2-style byte-level BPE (vocab 2000) trained with `tokenizers`
                                on wikitext-2 valid.txt, with the special token <|endoftext|>.
  goldens.json                  the test corpus and, per corpus line, the reference ids:
                                  "sentencepiece": sentencepiece on tokenizer.model (the reference for
                                                   llama2.c's tokenizer.bin, and for llama2/tokenizer.json
                                                   on lines without special tokens);
                                  "hf_llama2":     `tokenizers` on llama2/tokenizer.json (special tokens
                                                   such as <s> in the text are matched verbatim);
                                  "hf_bytelevel":  `tokenizers` on bytelevel/tokenizer.json.
                                All without BOS/EOS. The corpus is hand-written edge cases (ASCII, accents,
                                CJK, emoji, digits, whitespace runs, code, special tokens, empty string)
                                plus the first non-empty lines of wikitext-2 test.txt (held out from the
                                byte-level training text).
The script prints where sentencepiece and `tokenizers` disagree on the Llama vocabulary.
"""
import argparse
import json
import os

import sentencepiece as spm
from tokenizers import ByteLevelBPETokenizer, Tokenizer
from transformers import LlamaTokenizerFast

HAND_WRITTEN = [
    "",
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "  two leading spaces and two trailing  ",
    "multiple   spaces    between     words",
    "tabs\tand\ttabs\t\tdouble",
    "line one\nline two\n\nline four\n",
    "\n\n\n",
    "   ",
    " ",
    "a",
    "mixed \t \n whitespace \r\n windows line",
    "Café crème brûlée, naïve façade, Ångström, Straße, œuvre",
    "Ελληνικά και Русский текст",
    "日本語のテキストと中文文本，还有한국어。",
    "繁體字與罕見字：龘靐齉爩",
    "Emoji: 😀🎉👍🏽 and flags 🇫🇷 and ZWJ 👨‍👩‍👧‍👦",
    "Digits 0123456789 and 3.14159, 1,000,000 and 2024-01-31",
    "def f(x):\n    return x**2 + 1  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    '{"key": [1, 2, 3], "nested": {"a": null}}',
    "Punctuation!!! ??? ... --- ((( ))) [[[ ]]] @#$%^&*",
    "URL https://example.com/path?q=1&b=two#frag",
    "It's they're we've I'm you'll he'd",
    "CAPS LOCK AND MiXeD CaSe",
    "<s> special at start",
    "text with </s> end token inside",
    "Hello <s> world </s> again <unk> unk",
    "<|endoftext|>after end of text",
    "before<|endoftext|>",
    "not special: <0x41> <s",
    "zero width\u200bspace and non-breaking\u00a0space",
    "combining e\u0301 vs é",
    "math ∑∫√∞≠≈ arrows ←→↑↓",
    "\u2581metaspace char in input",
    "\x01 control \x7f chars",
    "a" * 300,
    "ab " * 100,
]


def corpus(data_dir, n_wiki):
    lines = list(HAND_WRITTEN)
    with open(os.path.join(data_dir, "wikitext-2", "test.txt"), encoding="utf-8") as f:
        wiki = [l.rstrip("\n") for l in f if l.strip()]
    lines += wiki[:n_wiki]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="../shared/models")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="tests/fixtures/tokenizers")
    ap.add_argument("--wiki-lines", type=int, default=60)
    args = ap.parse_args()

    sp_model = os.path.join(args.models, "llama2-tokenizer", "tokenizer.model")
    llama_dir = os.path.join(args.out, "llama2")
    byte_dir = os.path.join(args.out, "bytelevel")
    os.makedirs(llama_dir, exist_ok=True)
    os.makedirs(byte_dir, exist_ok=True)

    # Llama 2 as the Hugging Face hub ships it: legacy SentencePiece-style normalizer with the prefix.
    fast = LlamaTokenizerFast(vocab_file=sp_model, from_slow=True, legacy=True, add_prefix_space=True)
    fast.save_pretrained(llama_dir)
    for name in ("tokenizer.model", "special_tokens_map.json"):
        path = os.path.join(llama_dir, name)
        if os.path.exists(path):
            os.remove(path)
    # Keep the config small and free of transformers-only keys the tests do not need.
    with open(os.path.join(llama_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"}, f, indent=2)
        f.write("\n")

    # A small real byte-level BPE, GPT-2 style (regex pre-tokenizer, bytes<->unicode alphabet).
    bl = ByteLevelBPETokenizer(add_prefix_space=False)
    bl.train([os.path.join(args.data, "wikitext-2", "valid.txt")], vocab_size=2000, min_frequency=2,
             special_tokens=["<|endoftext|>"], show_progress=False)
    bl.save(os.path.join(byte_dir, "tokenizer.json"))

    lines = corpus(args.data, args.wiki_lines)
    sp = spm.SentencePieceProcessor(model_file=sp_model)
    hf_llama = Tokenizer.from_file(os.path.join(llama_dir, "tokenizer.json"))
    hf_byte = Tokenizer.from_file(os.path.join(byte_dir, "tokenizer.json"))
    cases = []
    disagree = 0
    for text in lines:
        sp_ids = sp.encode(text)
        llama_ids = hf_llama.encode(text, add_special_tokens=False).ids
        byte_ids = hf_byte.encode(text, add_special_tokens=False).ids
        if sp_ids != llama_ids:
            disagree += 1
            print(f"sentencepiece vs tokenizers differ on {text[:60]!r}")
        cases.append({"text": text, "sentencepiece": sp_ids, "hf_llama2": llama_ids, "hf_bytelevel": byte_ids})
    with open(os.path.join(args.out, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump({"note": "written by scripts/make_tokenizer_fixtures.py; ids without BOS/EOS",
                   "cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} corpus lines, sentencepiece and tokenizers differ on {disagree}")


if __name__ == "__main__":
    main()
