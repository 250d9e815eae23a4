#!/usr/bin/env bash
# The main job on a real model: inspect stories260K, measure its perplexity with the reference
# forward, export it as a Hugging Face directory, and check the export evaluates identically.
# Reports go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${SLMC_MODELS:-../shared/models}"
MODEL="$MODELS/stories260K/stories260K.bin"
SLMC=build/apps/slmc
mkdir -p out
$SLMC inspect "$MODEL"
$SLMC inspect --json --tensors "$MODEL" > out/stories260K.inspect.json
# stories260K's own tokenizer is not in ../shared: evaluate on token ids sampled from the model.
TOKENS=tests/fixtures/reference/stories260K_sample.txt
$SLMC eval "$MODEL" --tokens "$TOKENS" --ctx 256 --json out/stories260K.eval.json
$SLMC export "$MODEL" --format hf -o out/stories260K-hf
$SLMC eval out/stories260K-hf --tokens "$TOKENS" --ctx 256 --json out/stories260K-hf.eval.json
echo "demo: reports in out/ (stories260K.inspect.json, stories260K.eval.json, stories260K-hf.eval.json)"
