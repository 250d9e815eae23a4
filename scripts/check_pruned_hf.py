#!/usr/bin/env python3
"""Independent check of a pruned model that slmc exported as a float Hugging Face directory:
transformers loads it as is, numpy recounts the zeros and the N:M patterns recorded in
config.json's sparsity_config, and transformers' perplexity on a slmc token dataset (.h5,
/input_ids [N, L]) is printed next to the one slmc reports. Optional (needs torch + transformers
+ h5py + safetensors); never on the product's path.

    build/apps/slmc prune ../shared/models/stories260K/stories260K.bin --method sparsegpt --nm 2:4 \
        --data out/stories260K-calib.h5 --eval-data out/stories260K-eval.h5 -o /tmp/s260-2of4
    python3 scripts/check_pruned_hf.py /tmp/s260-2of4 out/stories260K-eval.h5
"""
import json
import math
import sys

import h5py
import numpy as np
import torch
import transformers
from safetensors.numpy import load_file


def check_patterns(export_dir):
    config = json.load(open(f"{export_dir}/config.json"))
    weights = load_file(f"{export_dir}/model.safetensors")
    record = config.get("sparsity_config", {}).get("weights", {})
    zeros = total = 0
    for name, spec in record.items():
        w = weights[name]
        zeros += int((w == 0).sum())
        total += w.size
        if spec["pattern"] != "unstructured":
            n, m = (int(x) for x in spec["pattern"].split(":"))
            nonzero = (w.reshape(w.shape[0], -1, m) != 0).sum(axis=2)
            if nonzero.max() > n:
                sys.exit(f"{name}: a group of {m} holds {nonzero.max()} non-zeros, more than {n}")
    if total:
        print(f"{len(record)} sparse tensors, {100 * zeros / total:.2f}% zeros, recorded N:M patterns hold")


def perplexity(export_dir, data_path):
    model = transformers.AutoModelForCausalLM.from_pretrained(export_dir).float().eval()
    ids = torch.tensor(np.array(h5py.File(data_path, "r")["input_ids"]), dtype=torch.long)
    nll, count = 0.0, 0
    with torch.no_grad():
        for batch in ids.split(8):
            logits = model(batch).logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
            nll += loss.item()
            count += batch[:, 1:].numel()
    return math.exp(nll / count), count


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    export_dir, data_path = sys.argv[1], sys.argv[2]
    check_patterns(export_dir)
    ppl, tokens = perplexity(export_dir, data_path)
    print(f"transformers perplexity {ppl:.4f} over {tokens} tokens")


if __name__ == "__main__":
    main()
