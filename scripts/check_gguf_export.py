#!/usr/bin/env python3
"""Reads a file written by `slmc export --format gguf` with the PyPI `gguf` package (llama.cpp's
own Python reader, independent of slmc's), checks what llama.cpp's llama loader needs, and with
--reference compares it with another GGUF of the same model: tokenizer keys equal, every tensor
dequantized (gguf.quants) within --tolerance of the reference's (0: bit for bit). Optional
(pip install gguf); never on the product's path.

    build/apps/slmc export ../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf -o /tmp/s.gguf
    python3 scripts/check_gguf_export.py /tmp/s.gguf --reference ../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import argparse
import collections
import sys

import numpy as np
import gguf
from gguf.quants import dequantize

LLAMA_KEYS = [
    "general.architecture", "llama.context_length", "llama.embedding_length", "llama.block_count",
    "llama.feed_forward_length", "llama.rope.dimension_count", "llama.attention.head_count",
    "llama.attention.head_count_kv", "llama.attention.layer_norm_rms_epsilon",
]
TOKENIZER_KEYS = [
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.chat_template",
]
LAYER_TENSORS = {"attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_gate", "ffn_up", "ffn_down", "ffn_norm"}


def value(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    text = field.types[-1] == gguf.GGUFValueType.STRING
    vals = [bytes(field.parts[i]).decode() if text else field.parts[i].tolist()[0] for i in field.data]
    return vals if field.types[0] == gguf.GGUFValueType.ARRAY else vals[0]


def tensor_name_ok(name):
    if name in ("token_embd.weight", "output_norm.weight", "output.weight"):
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in LAYER_TENSORS and parts[3] == "weight"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export")
    ap.add_argument("--reference", help="another GGUF of the same model to compare with")
    ap.add_argument("--tolerance", type=float, default=0.0, help="max |export - reference| per value (0: bit for bit)")
    args = ap.parse_args()
    problems = []

    r = gguf.GGUFReader(args.export)
    if value(r, "general.architecture") != "llama":
        problems.append("general.architecture is not llama")
    problems += [f"missing {k}" for k in LLAMA_KEYS if value(r, k) is None]
    blocks = value(r, "llama.block_count") or 0
    names = {t.name for t in r.tensors}
    problems += [f"tensor {t.name} has no llama name" for t in r.tensors if not tensor_name_ok(t.name)]
    for i in range(blocks):
        problems += [f"missing blk.{i}.{s}.weight" for s in sorted(LAYER_TENSORS) if f"blk.{i}.{s}.weight" not in names]
    tokens = value(r, "tokenizer.ggml.tokens")
    embd = next((t for t in r.tensors if t.name == "token_embd.weight"), None)
    if tokens is None:
        problems.append("no tokenizer.ggml.tokens (llama.cpp cannot run it)")
    elif embd is not None and len(tokens) != int(embd.shape[1]):
        problems.append(f"{len(tokens)} tokens for {int(embd.shape[1])} embedding rows")
    types = collections.Counter(t.tensor_type.name for t in r.tensors)
    print(f"{args.export}: GGUF v{value(r, 'GGUF.version')}, {len(r.tensors)} tensors "
          f"({', '.join(f'{n} {t}' for t, n in sorted(types.items()))}), "
          f"tokenizer {value(r, 'tokenizer.ggml.model')}/{value(r, 'tokenizer.ggml.pre')}, "
          f"{len(tokens or [])} tokens")

    if args.reference:
        ref = gguf.GGUFReader(args.reference)
        for key in TOKENIZER_KEYS:
            if value(ref, key) is not None and value(ref, key) != value(r, key):
                problems.append(f"{key} differs from the reference")
        ref_tensors = {t.name: t for t in ref.tensors}
        worst = 0.0
        for t in r.tensors:
            if t.name not in ref_tensors:
                problems.append(f"{t.name} is not in the reference")
                continue
            a = dequantize(t.data, t.tensor_type).astype(np.float32)
            b = dequantize(ref_tensors[t.name].data, ref_tensors[t.name].tensor_type).astype(np.float32)
            if a.shape != b.shape:
                problems.append(f"{t.name}: shape {a.shape} vs the reference's {b.shape}")
                continue
            err = float(np.abs(a - b).max()) if a.size else 0.0
            worst = max(worst, err)
            same = np.array_equal(a.view(np.uint32), b.view(np.uint32)) if args.tolerance == 0 else err <= args.tolerance
            if not same:
                problems.append(f"{t.name}: max |export - reference| {err:.3g}")
        print(f"against {args.reference}: {len(r.tensors)} tensors, max |difference| {worst:.3g}")

    for p in problems:
        print("problem:", p)
    print("OK" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
