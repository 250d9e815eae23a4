#!/usr/bin/env bash
# The main job on real models: SmolLM2-135M from its GGUF (import, evaluate on WikiText-2 with its
# own tokenizer, GPTQ int4, pack, verify, validate the runtime, chat), then on stories260K: inspect, measure its perplexity with the reference
# forward, export it as a Hugging Face directory and check the export evaluates identically,
# then compress it: 4-bit GPTQ (and the same from a recipe), pruning (SparseGPT 2:4, sparse then
# 4-bit, structured), calibrated and evaluated on text the
# model sampled itself (its own tokenizer is not in ../shared), pack the result and validate slmc's
# runtime against the reference on it. Reports go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${SLMC_MODELS:-../shared/models}"
MODEL="$MODELS/stories260K/stories260K.bin"
SLMC=build/apps/slmc
DATA_DIR="${SLMC_DATA:-../shared/data}"
# out/ holds only this demo's artifacts: a rerun starts it afresh (commands refuse to overwrite an
# existing -o without --force).
rm -rf out && mkdir -p out
# SmolLM2-135M-Instruct as users have it: the published GGUF alone. Its vocabulary inside the GGUF
# is its tokenizer; WikiText-2 text is scored with it (no token files needed).
SMOL="$MODELS/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
$SLMC inspect "$SMOL"
$SLMC tokenize "$SMOL" --text "Compress me: 2024 ✓"
$SLMC eval "$SMOL" --data "$DATA_DIR/wikitext-2/test.txt" --max-tokens 4096 --ctx 512 --json out/smollm2.eval.json
$SLMC export "$SMOL" --format hf -o out/smollm2-hf
$SLMC dataset build --tokenizer "$SMOL" --input "$DATA_DIR/wikitext-2/valid.txt" --seq-len 512 --samples 16 --seed 0 \
  -o out/smollm2-calib.h5 --json out/smollm2-calib.dataset.json
$SLMC quantize "$SMOL" --method gptq --bits 4 --group-size 128 --data out/smollm2-calib.h5 --samples 16 --seq-len 512 \
  -o out/smollm2-w4-gptq
$SLMC export out/smollm2-w4-gptq -o out/smollm2-w4-gptq.slmc
$SLMC verify out/smollm2-w4-gptq.slmc
$SLMC validate out/smollm2-w4-gptq.slmc --reference out/smollm2-w4-gptq --data "$DATA_DIR/wikitext-2/test.txt" \
  --max-tokens 1024 --ctx 512 --json out/smollm2-w4-gptq.validate.json
$SLMC run out/smollm2-w4-gptq.slmc --prompt "What is the capital of France?" --chat -n 32
$SLMC inspect "$MODEL"
$SLMC inspect --json --tensors "$MODEL" > out/stories260K.inspect.json
# stories260K's own tokenizer is not in ../shared: evaluate on token ids sampled from the model.
TOKENS=tests/fixtures/reference/stories260K_sample.txt
$SLMC eval "$MODEL" --tokens "$TOKENS" --ctx 256 --json out/stories260K.eval.json
$SLMC export "$MODEL" --format hf -o out/stories260K-hf
$SLMC eval out/stories260K-hf --tokens "$TOKENS" --ctx 256 --json out/stories260K-hf.eval.json
# Real text through the real Llama 2 tokenizer into calibration samples (HDF5 + JSON report).
$SLMC dataset build --tokenizer "$MODELS/llama2-tokenizer/tokenizer.bin" \
  --input "${SLMC_DATA:-../shared/data}/wikitext-2/valid.txt" --seq-len 512 --samples 128 --seed 0 \
  -o out/wikitext2-valid.h5 --json out/wikitext2-valid.dataset.json
# Compression: self-sampled calibration (seed 1) and evaluation (seed 2) sets, then quantize.
$SLMC dataset generate "$MODEL" --samples 128 --seq-len 256 --seed 1 -o out/stories260K-calib.h5
$SLMC dataset generate "$MODEL" --samples 32 --seq-len 256 --seed 2 -o out/stories260K-eval.h5
DATA="--data out/stories260K-calib.h5 --samples 128 --seq-len 256 --eval-data out/stories260K-eval.h5"
$SLMC quantize "$MODEL" --method rtn --bits 4 --group-size 32 $DATA -o out/stories260K-w4-rtn
$SLMC quantize "$MODEL" --method gptq --bits 4 --group-size 32 $DATA -o out/stories260K-w4-gptq
$SLMC compress "$MODEL" --recipe configs/w8a8-smoothquant.yaml $DATA -o out/stories260K-w8a8
$SLMC eval out/stories260K-w4-gptq --data out/stories260K-eval.h5 --ctx 256 --json out/stories260K-w4-gptq.eval.json
# Pruning: SparseGPT 2:4 (the pattern survives the pack), sparse-then-quantized from a recipe,
# and structured pruning that shrinks the tensors (a KV group of heads, a quarter of the MLP
# channels, one layer); the smaller model is quantized and packed like any other.
$SLMC prune "$MODEL" --method sparsegpt --nm 2:4 $DATA -o out/stories260K-2of4-sparsegpt
$SLMC compress "$MODEL" --recipe configs/sparse50-sparsegpt-w4-gptq.yaml $DATA -o out/stories260K-sparse50-w4
$SLMC prune "$MODEL" --structured heads=0.25,ffn=0.25,layers=1 $DATA -o out/stories260K-shrunk
$SLMC quantize out/stories260K-shrunk --method gptq --bits 8 --group-size 0 $DATA -o out/stories260K-shrunk-w8
$SLMC export out/stories260K-shrunk-w8 -o out/stories260K-shrunk-w8.slmc
$SLMC export out/stories260K-2of4-sparsegpt -o out/stories260K-2of4-sparsegpt.slmc
$SLMC verify out/stories260K-2of4-sparsegpt.slmc
# Deploy: pack the GPTQ model, check the pack, compare slmc's own runtime with the reference on
# the evaluation set, and generate from it (ids: stories260K's tokenizer is not in ../shared).
$SLMC export out/stories260K-w4-gptq -o out/stories260K-w4-gptq.slmc
$SLMC verify out/stories260K-w4-gptq.slmc
$SLMC validate out/stories260K-w4-gptq.slmc --reference out/stories260K-w4-gptq --data out/stories260K-eval.h5 \
  --ctx 256 --json out/stories260K-w4-gptq.validate.json
$SLMC run out/stories260K-w4-gptq.slmc --prompt-ids 1 -n 32 --seed 0
# The float model packed too, its runtime logits checked against the exact (float64) reference.
$SLMC export "$MODEL" -o out/stories260K.slmc
$SLMC validate out/stories260K.slmc --reference "$MODEL" --reference-dtype float64 --data out/stories260K-eval.h5 \
  --ctx 256 --json out/stories260K.validate.json
echo "demo: SmolLM2: out/smollm2.eval.json, out/smollm2-hf, out/smollm2-w4-gptq(.slmc), out/smollm2-w4-gptq.validate.json"
echo "demo: quantized models and their reports in out/stories260K-w4-rtn, -w4-gptq, -w8a8 (slmc_report.json / .md)"
echo "demo: pruned models and their reports in out/stories260K-2of4-sparsegpt, -sparse50-w4, -shrunk, -shrunk-w8"
echo "demo: reports in out/ (stories260K.inspect.json, stories260K.eval.json, stories260K-hf.eval.json, wikitext2-valid.dataset.json, stories260K.validate.json, stories260K-w4-gptq.validate.json)"
