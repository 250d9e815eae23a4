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

from tokenizers import ByteLevelBPETokenizer, Tokenizer

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
    ap.add_argument("--pipelines-only", action="store_true",
                    help="only write pipelines/ (needs just `tokenizers`, not sentencepiece/transformers)")
    args = ap.parse_args()
    make_pipelines(args)
    if args.pipelines_only:
        return
    import sentencepiece as spm
    from transformers import LlamaTokenizerFast

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


# tokenizer.json pipelines of today's models, and one small synthetic per normalizer / pre-tokenizer /
# split behavior. One byte-level vocabulary (pipelines/base.json) serves every variant: the test splices
# each variant's "normalizer" and "pre_tokenizer" into it and builds it with HfBpeTokenizer::fromJson.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
BL_REGEX = dict(BL, use_regex=True)


def seq(*steps):
    return {"type": "Sequence", "pretokenizers": list(steps)}


def split(pattern, behavior, invert=False, regex=True):
    return {"type": "Split", "pattern": {"Regex" if regex else "String": pattern}, "behavior": behavior,
            "invert": invert}


VARIANTS = {
    "llama3": (None, seq(split(LLAMA3_SPLIT, "Isolated"), BL), {"ignore_merges": True}),
    "qwen2": ({"type": "NFC"}, seq(split(QWEN2_SPLIT, "Isolated"), BL), {}),
    "digits_contiguous": (None, seq({"type": "Digits", "individual_digits": False}, BL_REGEX), {}),
    "split_removed": (None, seq(split(" ", "Removed", regex=False), BL), {}),
    "split_merged_previous": (None, seq(split(r"[,.!?]", "MergedWithPrevious"), BL_REGEX), {}),
    "split_merged_next": (None, seq(split(r"\s", "MergedWithNext"), BL), {}),
    "split_contiguous": (None, seq(split(r"\s", "Contiguous"), BL), {}),
    "split_inverted": (None, seq(split(r"\p{L}+", "Isolated", invert=True), BL), {}),
    "split_inverted_removed": (None, seq(split(r"\p{L}+", "Removed", invert=True), BL), {}),
    "punctuation": (None, seq({"type": "Punctuation", "behavior": "Isolated"}, BL), {}),
    "punctuation_contiguous": (None, seq({"type": "Punctuation", "behavior": "Contiguous"}, BL), {}),
    "whitespace": (None, seq({"type": "Whitespace"}, BL), {}),
    "whitespace_split_prefix": (None, seq({"type": "WhitespaceSplit"}, dict(BL, add_prefix_space=True)), {}),
    "lowercase_strip": ({"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "Strip", "strip_left": True,
                                                                                   "strip_right": True}]},
                        BL_REGEX, {}),
    "nfkc_strip_right": ({"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Strip", "strip_left": False,
                                                                               "strip_right": True}]}, BL_REGEX, {}),
    "nfd_strip_accents": ({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]}, BL_REGEX, {}),
    "nfkd": ({"type": "NFKD"}, BL_REGEX, {}),
    "replace_regex": ({"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
        {"type": "Replace", "pattern": {"String": "e"}, "content": "E"},
        {"type": "Prepend", "prepend": ">"}]}, BL_REGEX, {}),
}

PIPELINE_LINES = HAND_WRITTEN + [
    "서울은 한국의 수도입니다. 한글 자모: ᄀ ᅡ 가각",
    "decomposed: e\u0301 a\u0300 n\u0303 o\u0308; composed: é à ñ ö; compat: ﬁ ① ² Ⅻ ｆｕｌｌ",
    "İstanbul ΣΑΣ ΌΣΟΣ Straße ǅ",
    "ZWJ family 👩‍❤️‍👨 and 🏳️‍🌈 and keycap 1️⃣",
    "digits 1234567890123 and ٣٤٥ and ১২৩ and ½",
    "code:\tif (x == 42) {\n\t\treturn \"ok\";\n\t}\n",
    "  \t\n  mixed   \n\n\t whitespace runs\t\t",
    "<|endoftext|><|endoftext|> twice, and <|im_start|>user\nhi<|im_end|>",
    "wasn't WE'RE They'LL it'S",
    "a,b,,c... d!? e",
]


def make_pipelines(args):
    out = os.path.join(args.out, "pipelines")
    os.makedirs(out, exist_ok=True)
    lines = [l for l in PIPELINE_LINES if len(l) < 200]  # keeps goldens.json small
    # A small byte-level vocabulary: every byte, plus merges learnt from a few KB of mixed text.
    with open(os.path.join(args.data, "wikitext-2", "valid.txt"), encoding="utf-8") as f:
        train = f.read(12000)
    bl = ByteLevelBPETokenizer(add_prefix_space=False)
    bl.train_from_iterator([train] + PIPELINE_LINES * 3, vocab_size=700, min_frequency=2,
                           special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], show_progress=False)
    base = json.loads(bl.to_str())
    base_path = os.path.join(out, "base.json")
    with open(base_path, "w", encoding="utf-8") as f:
        json.dump(base, f, ensure_ascii=False, separators=(",", ":"))
    variants = {}
    for name, (normalizer, pre_tokenizer, model_extra) in VARIANTS.items():
        j = json.loads(json.dumps(base))
        j["normalizer"] = normalizer
        j["pre_tokenizer"] = pre_tokenizer
        j["model"].update(model_extra)
        tok = Tokenizer.from_str(json.dumps(j))
        cases = []
        for text in lines:
            ids = tok.encode(text, add_special_tokens=False).ids
            decoded = tok.decode(ids, skip_special_tokens=True)
            cases.append({"ids": ids} if decoded == text else {"ids": ids, "decoded": decoded})
        variants[name] = {"normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "model": model_extra,
                          "cases": cases}
    smol = Tokenizer.from_file(os.path.join(args.models, "smollm2-135m-instruct", "tokenizer.json"))
    smol_cases = []
    for text in lines:
        ids = smol.encode(text, add_special_tokens=False).ids
        decoded = smol.decode(ids, skip_special_tokens=True)
        smol_cases.append({"ids": ids} if decoded == text else {"ids": ids, "decoded": decoded})
    with open(os.path.join(out, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump({"note": "written by scripts/make_tokenizer_fixtures.py --pipelines-only; ids without BOS/EOS; "
                           "smollm2 is $SLMC_MODELS/smollm2-135m-instruct/tokenizer.json",
                   "texts": lines, "variants": variants, "smollm2": smol_cases},
                  f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"pipelines: {len(lines)} lines x {len(variants)} variants + smollm2")


if __name__ == "__main__":
    main()
