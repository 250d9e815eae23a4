#!/usr/bin/env python3
"""Loads a directory written by `slmc export --format hf --quant-format compressed-tensors` with
transformers + compressed-tensors and prints its perplexity on a few WikiText-2 windows next to
`slmc eval`'s of the slmc model it was exported from (same token ids, same windows). Before that,
it unpacks every weight_packed tensor of model.safetensors with numpy, as compressed-tensors'
unpack_from_int32 + dequantize do, and compares the result with the weights transformers holds
after decompression. Optional (needs torch, transformers, compressed-tensors, numpy); never in CI,
never on the product's path.

    slmc quantize ../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --method rtn --bits 4 --group-size 32 -o /tmp/q4
    slmc export /tmp/q4 --format hf --quant-format compressed-tensors -o /tmp/q4-ct
    python3 scripts/check_compressed_tensors.py /tmp/q4-ct /tmp/q4 ../shared/data/wikitext-2/test.txt \\
        --slmc build/apps/slmc --ctx 256 --windows 8

Exit status 1 when an unpacked weight differs from transformers' or the perplexities differ by
more than --tolerance (relative).

Known to work (2026-12): Debian's python3-torch 1.13 (/usr/bin/python3) with
`pip install --break-system-packages transformers==4.45.2 compressed-tensors==0.6.0` and
`pip install --no-deps accelerate==0.34.2` (transformers 4.44 does not know compressed-tensors;
newer compressed-tensors releases need torch >= 2.1).
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    """name -> numpy array, for the dtypes the packed tensors use (BF16 tensors are skipped)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in SAFETENSORS_DTYPES:
            continue
        begin, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return out


def unpack_int32(packed, num_bits, length, axis):
    """compressed-tensors' unpack_from_int32: 32 // num_bits unsigned values per int32 along
    `axis`, lowest bits first, offset by 2**(num_bits - 1) from the signed code."""
    per_word = 32 // num_bits
    words = packed.astype(np.int64) & 0xFFFFFFFF
    if axis == 0:
        words = words.T
    shifts = np.arange(per_word, dtype=np.int64) * num_bits
    values = (words[:, :, None] >> shifts) & ((1 << num_bits) - 1)
    values = values.reshape(words.shape[0], -1)[:, :length] - (1 << (num_bits - 1))
    return values.T if axis == 0 else values


def dequantize(tensors, base, weights_args):
    rows, cols = (int(v) for v in tensors[base + ".weight_shape"])
    bits = weights_args["num_bits"]
    q = unpack_int32(tensors[base + ".weight_packed"], bits, cols, axis=1)
    scale = tensors[base + ".weight_scale"].astype(np.float32)
    group = weights_args["group_size"] or cols
    zp = np.zeros_like(scale, dtype=np.int64)
    if not weights_args["symmetric"]:
        zp = unpack_int32(tensors[base + ".weight_zero_point"], bits, rows, axis=0)
    col_group = np.arange(cols) // group
    return ((q - zp[:, col_group]).astype(np.float32) * scale[:, col_group]).astype(np.float32)


def scheme_of(config, base):
    groups = config["config_groups"]
    for scheme in groups.values():
        if base in scheme["targets"] or (scheme["targets"] == ["Linear"] and len(groups) == 1):
            return scheme["weights"]
    raise SystemExit(f"{base}: no config group names it")


def sliding_windows(n, ctx):
    """slmc's slidingWindows (lib/reference/perplexity.cpp) with stride = ctx."""
    windows, prev_end, begin = [], 0, 0
    while begin < n:
        end = min(begin + ctx, n)
        score_from = max(prev_end, begin + 1)
        if score_from < end and end - begin >= 2:
            windows.append((begin, end, score_from))
        prev_end = end
        if end == n:
            break
        begin += ctx
    return windows


def transformers_perplexity(model, ids, ctx):
    import torch

    nll, scored = 0.0, 0
    with torch.no_grad():
        for begin, end, score_from in sliding_windows(len(ids), ctx):
            logits = model(torch.tensor([ids[begin:end]])).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            for p in range(score_from, end):
                nll -= logp[p - begin - 1, ids[p]].item()
                scored += 1
    return math.exp(nll / scored)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir", help="the compressed-tensors export")
    parser.add_argument("slmc_model", help="the slmc model it was exported from (slmc's layout)")
    parser.add_argument("text", help="WikiText-2 text file")
    parser.add_argument("--slmc", default="build/apps/slmc")
    parser.add_argument("--ctx", type=int, default=256)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()

    config = json.load(open(os.path.join(args.export_dir, "config.json")))["quantization_config"]
    tensors = read_safetensors(os.path.join(args.export_dir, "model.safetensors"))
    unpacked = {name[: -len(".weight_packed")]: None for name in tensors if name.endswith(".weight_packed")}
    for base in unpacked:
        unpacked[base] = dequantize(tensors, base, scheme_of(config, base))
    print(f"unpacked {len(unpacked)} packed linears with numpy")

    import torch

    if not hasattr(torch, "float8_e4m3fn"):
        # Debian's torch 1.13 has no float8 dtypes; compressed-tensors names one at import time,
        # for its fp8 schemes only. A placeholder lets the int4/int8 pack-quantized path load.
        torch.float8_e4m3fn = torch.float16
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(args.export_dir, torch_dtype=torch.float32).eval()
    modules = dict(model.named_modules())

    def decompressed(module):
        # transformers >= 4.45 keeps compressed-tensors' CompressedLinear modules compressed and
        # decompresses in each forward; older ones decompress at load into a plain .weight.
        if hasattr(module, "weight"):
            return module.weight
        with torch.no_grad():
            return module.compressor.decompress_module(module)

    worst = max(float(np.abs(decompressed(modules[base]).detach().numpy() - w).max()) for base, w in unpacked.items())
    print(f"max |numpy unpack - transformers' decompressed weight| = {worst:.3g}")

    # The same ids for both: slmc tokenizes the text (its eval's --data policy is per document;
    # a plain id stream keeps the comparison to the windows alone).
    text = open(args.text, encoding="utf-8").read()[: args.ctx * args.windows * 8]
    out = subprocess.run([args.slmc, "tokenize", args.export_dir, "--text", text, "--ids"], check=True,
                         capture_output=True, text=True).stdout
    ids = json.loads(out)[: args.ctx * args.windows]
    with tempfile.TemporaryDirectory() as tmp:
        tokens = os.path.join(tmp, "ids.txt")
        open(tokens, "w").write("\n".join(str(i) for i in ids) + "\n")
        report = os.path.join(tmp, "eval.json")
        subprocess.run([args.slmc, "-q", "eval", args.slmc_model, "--tokens", tokens, "--ctx", str(args.ctx),
                        "--json", report], check=True)
        slmc_ppl = json.load(open(report))["perplexity"]
    ppl = transformers_perplexity(model, ids, args.ctx)
    print(f"perplexity on {len(ids)} WikiText-2 tokens, {len(sliding_windows(len(ids), args.ctx))} windows of {args.ctx}:"
          f" transformers + compressed-tensors {ppl:.4f}, slmc eval {slmc_ppl:.4f}"
          f" ({(ppl / slmc_ppl - 1) * 100:+.4f}%)")
    ok = worst == 0.0 and abs(ppl / slmc_ppl - 1) <= args.tolerance
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
