#!/usr/bin/env python3
"""Loads a directory written by `slmc export --format hf` with transformers and compares its
logits with a golden record from make_reference_fixtures.py. Optional (needs torch +
transformers); never on the product's path.

    build/apps/slmc export ../shared/models/stories260K/stories260K.bin -o /tmp/s260-hf
    python3 scripts/check_hf_export.py /tmp/s260-hf tests/fixtures/reference/stories260K_logits.json
"""
import json
import sys

import torch
import transformers


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    export_dir, golden_path = sys.argv[1], sys.argv[2]
    golden = json.load(open(golden_path))
    model = transformers.AutoModelForCausalLM.from_pretrained(export_dir).float().eval()
    with torch.no_grad():
        logits = model(torch.tensor(golden["ids"])).logits
    err = (logits.reshape(-1) - torch.tensor(golden["logits"])).abs().max().item()
    print(f"{export_dir}: max |logit - golden| = {err:.3g}")
    sys.exit(0 if err <= 1e-4 else 1)


if __name__ == "__main__":
    main()
