#!/usr/bin/env bash
# Side by side with llama.cpp on one evaluator: slmc's GGUF exports and llama.cpp's own
# quantizations of the same float weights, all scored by llama.cpp's llama-perplexity on the same
# WikiText-2 chunks, with their exact byte sizes. Optional (never on the product's path, not in
# CI): it needs llama.cpp built outside the repository, e.g. from the llama-cpp-python sdist:
#
#   pip download --no-deps --no-binary :all: llama-cpp-python && tar xzf llama_cpp_python-*.tar.gz
#   cd llama_cpp_python-*/vendor/llama.cpp && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
#     -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF && ninja -C build llama-perplexity llama-quantize
#
#   LLAMA_CPP_BIN=.../vendor/llama.cpp/build/bin bash bench/compare_llama_cpp.sh [CHUNKS]
#
# With CALIBRATED=1 it adds the calibrated rows: llama.cpp's imatrix (llama-imatrix on WikiText-2
# valid, $CAL_CHUNKS chunks of 512, default 64) and Q8_0 / Q4_K_M / Q4_0 / Q3_K_M / Q2_K
# quantized with it, next to slmc's ready recipes configs/q8.yaml, q4.yaml, q3.yaml and q2.yaml
# calibrated on the same tokens (their packs' bytes; llama-perplexity reads an exact GGUF export
# of each), about 15 minutes on 2 cores (ninja llama-imatrix too). Each row says how long its
# quantization took.
#
# Prints a Markdown table (type, bytes, perplexity, increase over the float export) and keeps the
# models and llama.cpp's logs in $OUT (default out/compare-llama-cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_CPP_BIN:?set LLAMA_CPP_BIN to the build/bin of llama.cpp (see the header of this script)}"
chunks=${1:-16}
models=${SLMC_MODELS:-../shared/models} data=${SLMC_DATA:-../shared/data}
src="$models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
text="$data/wikitext-2/test.txt"
valid="$data/wikitext-2/valid.txt"
calibrated=${CALIBRATED:-0} cal_chunks=${CAL_CHUNKS:-64}
out=${OUT:-out/compare-llama-cpp}
slmc=build/apps/slmc
tools="llama-perplexity llama-quantize"
[ "$calibrated" = 1 ] && tools="$tools llama-imatrix"
for tool in $tools; do
  [ -x "$LLAMA_CPP_BIN/$tool" ] || { echo "compare: $LLAMA_CPP_BIN/$tool not found (build it: see this script's header)" >&2; exit 1; }
done
[ -x "$slmc" ] || { echo "compare: $slmc not found (run scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/*.gguf "$out"/*.report.json "$out"/*.report.md

# The float weights both sides start from: the published GGUF dequantized bit-exactly.
"$slmc" -q export "$src" --format gguf -o "$out/float.gguf" >/dev/null
"$LLAMA_CPP_BIN/llama-quantize" "$out/float.gguf" "$out/llama-q8_0.gguf" Q8_0 2 >"$out/llama-q8_0.quantize.log" 2>&1
"$LLAMA_CPP_BIN/llama-quantize" "$out/float.gguf" "$out/llama-q4_0.gguf" Q4_0 2 >"$out/llama-q4_0.quantize.log" 2>&1
# slmc's grids that GGUF stores exactly (its export reports exact=true): int8 g32 sym = Q8_0,
# int4 g32 sym = Q4_0, the embedding / tied head at int8 g32 as llama.cpp keeps it at Q8_0.
"$slmc" -q quantize "$src" --method rtn --bits 8 --group-size 32 --embedding int8-g32 -o "$out/slmc-rtn-q8_0.gguf" >/dev/null
"$slmc" -q quantize "$src" --method rtn --bits 4 --group-size 32 --embedding int8-g32 -o "$out/slmc-rtn-q4_0.gguf" >/dev/null
"$slmc" -q quantize "$src" --method rtn --bits 4 --group-size 32 --embedding int8-g32 --no-scale-search \
  -o "$out/slmc-rtn-plain-q4_0.gguf" >/dev/null
rows="float llama-q8_0 slmc-rtn-q8_0 llama-q4_0 slmc-rtn-q4_0 slmc-rtn-plain-q4_0"
declare -A seconds=()
timed() {  # timed NAME COMMAND...: runs it, keeps its wall seconds for the table
  local name=$1 t0
  shift
  t0=$(date +%s.%N)
  "$@"
  seconds[$name]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
}

if [ "$calibrated" = 1 ]; then
  # One imatrix for every llama.cpp type, from the calibration text slmc's recipes use.
  timed imatrix "$LLAMA_CPP_BIN/llama-imatrix" -m "$out/float.gguf" -f "$valid" -c 512 --chunks "$cal_chunks" \
    -t "$(nproc)" -o "$out/imatrix.gguf" >"$out/imatrix.log" 2>&1
  for type in Q8_0 Q4_K_M Q4_0 Q3_K_M Q2_K; do
    name=llama-$(echo "$type" | tr 'A-Z' 'a-z')-imatrix
    timed "$name" "$LLAMA_CPP_BIN/llama-quantize" --imatrix "$out/imatrix.gguf" "$out/float.gguf" "$out/$name.gguf" \
      "$type" 2 >"$out/$name.quantize.log" 2>&1
    seconds[$name]=$((seconds[$name] + seconds[imatrix]))
    rows="$rows $name"
  done
  # slmc's recipes write packs (the bytes their targets count); llama-perplexity reads the same
  # weights from an exact GGUF export of each, so the table shows the pack's bytes.
  for recipe in q8 q4 q3 q2; do
    timed "slmc-$recipe" "$slmc" -q compress "$src" --recipe "configs/$recipe.yaml" --data "$valid" \
      --samples "$cal_chunks" --seq-len 512 -o "$out/slmc-$recipe.slmc" >/dev/null
    "$slmc" -q export "$out/slmc-$recipe.slmc" --format gguf -o "$out/slmc-$recipe.gguf" >/dev/null
    rows="$rows slmc-$recipe"
  done
fi

ppl() {
  "$LLAMA_CPP_BIN/llama-perplexity" -m "$1" -f "$text" -c 512 --chunks "$chunks" -t "$(nproc)" >"${1%.gguf}.perplexity.log" 2>&1
  grep -o 'Final estimate: PPL = [0-9.]*' "${1%.gguf}.perplexity.log" | awk '{print $5}'
}
base=$(ppl "$out/float.gguf")
echo "llama-perplexity, WikiText-2 test, $chunks chunks of 512 (llama.cpp scores each chunk's second half)"
echo
echo "| model | bytes | perplexity | increase | quantize (s) |"
echo "|---|---:|---:|---:|---:|"
for m in $rows; do
  f="$out/$m.gguf"
  if [ "$m" = float ]; then p=$base; else p=$(ppl "$f"); fi
  bytes=$(stat -c %s "$f")
  [ -f "$out/$m.slmc" ] && bytes=$(stat -c %s "$out/$m.slmc")
  increase=$(awk -v p="$p" -v b="$base" 'BEGIN { printf "%+.2f%%", 100 * (p / b - 1) }')
  printf '| %s | %d | %s | %s | %s |\n' "$m" "$bytes" "$p" "$increase" "${seconds[$m]:-}"
done
