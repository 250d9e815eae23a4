#!/usr/bin/env bash
# Quantization quality per byte on SmolLM2-135M, the protocol of issue 15: calibration 64 x 512
# tokens of WikiText-2 valid (seed 0), evaluation on the first 16 x 512 tokens of WikiText-2 test
# with the reference forward (perplexity, KL to float, top-1 agreement), whole-pack bytes.
#
#   bench/quantize_smollm2.sh OUT_DIR 'NAME:FLAGS' ['NAME:FLAGS' ...]
#   e.g. bench/quantize_smollm2.sh out/q 'gptq-int4-g32:--method gptq --bits 4 --group-size 32'
#
# Prints one Markdown row per setting (and appends it to OUT_DIR/table.md):
#   | setting | pack MB | perplexity | increase | mean KL | top-1 | quantize s |
# Long: run it with hrun-free on a shared machine. Never part of the test suite.
set -euo pipefail
out=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
slmc=${SLMC:-$root/build/apps/slmc}
model=${MODEL:-$root/../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
data=${DATA:-$root/../shared/data/wikitext-2}
mkdir -p "$out"
for setting in "$@"; do
  name=${setting%%:*}
  flags=${setting#*:}
  # shellcheck disable=SC2086  # flags are words on purpose
  "$slmc" quantize "$model" $flags --data "$data/valid.txt" --samples 64 --seq-len 512 --seed 0 \
    --eval-data "$data/test.txt" --eval-ctx 512 --eval-max-tokens 8192 \
    -o "$out/$name" --report "$out/$name.json" >"$out/$name.log" 2>&1
  "$slmc" export "$out/$name" --format pack -o "$out/$name.slmc" >>"$out/$name.log" 2>&1
  python3 - "$out/$name.json" "$out/$name.slmc" "$name" <<'EOF' | tee -a "$out/table.md"
import json, os, sys
report, pack, name = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(report))
ev = r["evaluation"]
base, cand = ev["perplexity"]["original"], ev["perplexity"]["compressed"]
seconds = sum(p["seconds"] for p in r["passes"])
print(f"| {name} | {os.path.getsize(pack) / 1e6:.1f} | {cand:.3f} | {100 * (cand / base - 1):+.1f}% | "
      f"{ev['mean_kl']:.4f} | {100 * ev['top1_agreement']:.1f}% | {seconds:.0f} |")
EOF
done
