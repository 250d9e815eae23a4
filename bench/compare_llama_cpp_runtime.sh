#!/usr/bin/env bash
# slmc's runtime side by side with llama.cpp's on SmolLM2-135M, in one run: prompt and generation
# tokens/s (llama-bench vs `slmc bench`, the pairs interleaved so that both see the same machine),
# and greedy tokens (llama-simple on slmc's GGUF export vs `slmc run --temperature 0` on the pack of
# the same quantized model). Optional (never on the product's path, not in CI): it needs llama.cpp
# built outside the repository, as bench/compare_llama_cpp.sh's header says, with the targets
# llama-bench llama-simple llama-quantize. On CPUs with AMX (Sapphire Rapids and later) under a
# VM that does not grant the AMX tiles, llama.cpp 0.3.36's AMX kernels crash (SIGSEGV in
# ggml_backend_amx_mul_mat): build it with
#   -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" (and the same CMAKE_CXX_FLAGS).
#
#   LLAMA_CPP_BIN=.../vendor/llama.cpp/build/bin bash bench/compare_llama_cpp_runtime.sh [PROMPTS] [GEN] [ROUNDS]
#
# PROMPTS: prompt lengths, comma-separated (default 64); GEN: tokens generated (default 64);
# ROUNDS: passes over the pairs (default 2).
#
# Pairs (the float weights are the published Q4_1 GGUF dequantized; both sides quantize them the
# plain way, no calibration): F32 vs the f32 pack; llama-quantize Q8_0 vs slmc RTN int8 g32;
# Q4_0 vs RTN int4 g32 (llama-quantize's Q4_0 mix picks the tied token embedding's type; slmc's
# packs keep int8 embedding rows, --embedding int8-channel). Prints a Markdown row per pair and
# round, with both files' bytes; keeps the files in $OUT (default out/compare-llama-cpp-runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_CPP_BIN:?set LLAMA_CPP_BIN to the build/bin of llama.cpp (see the header of this script)}"
prompt=${1:-64} gen=${2:-64} rounds=${3:-2}
models=${SLMC_MODELS:-../shared/models}
src="$models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
out=${OUT:-out/compare-llama-cpp-runtime}
slmc=build/apps/slmc
threads=${THREADS:-2}
for tool in llama-bench llama-simple llama-quantize; do
  [ -x "$LLAMA_CPP_BIN/$tool" ] || { echo "compare: $LLAMA_CPP_BIN/$tool not found (build it: see this script's header)" >&2; exit 1; }
done
[ -x "$slmc" ] || { echo "compare: $slmc not found (run scripts/setup.sh)" >&2; exit 1; }
[ -f "$src" ] || { echo "compare: $src not found (set SLMC_MODELS)" >&2; exit 1; }
mkdir -p "$out"

# The artifacts: llama.cpp's from slmc's exact F32 GGUF export, slmc's from the source GGUF.
"$slmc" -q export "$src" --format gguf --float-dtype f32 -o "$out/f32.gguf" --force
"$LLAMA_CPP_BIN/llama-quantize" "$out/f32.gguf" "$out/q8_0.gguf" Q8_0 "$threads" > "$out/llama-quantize.log" 2>&1
"$LLAMA_CPP_BIN/llama-quantize" "$out/f32.gguf" "$out/q4_0.gguf" Q4_0 "$threads" >> "$out/llama-quantize.log" 2>&1
"$slmc" -q export "$src" --format pack --float-dtype f32 -o "$out/f32.slmc" --force
"$slmc" -q quantize "$src" --method rtn --bits 8 --group-size 32 --embedding int8-channel -o "$out/q8.slmc" --force > /dev/null
"$slmc" -q quantize "$src" --method rtn --bits 4 --group-size 32 --embedding int8-channel -o "$out/q4.slmc" --force > /dev/null

# One Markdown row from llama-bench's CSV (avg_ts of its prompt and generation rows) and slmc
# bench's JSON.
cat > "$out/row.py" << 'PY'
import csv, json, os, sys
gguf, pack, round_, prompt, out = sys.argv[1:6]
rows = list(csv.DictReader(open(os.path.join(out, "llama-bench.csv"))))
lp = float([r["avg_ts"] for r in rows if int(r["n_prompt"]) > 0][0])
lg = float([r["avg_ts"] for r in rows if int(r["n_gen"]) > 0][0])
j = json.load(open(os.path.join(out, "slmc-bench.json")))
sp, sg = j["prompt_tokens_per_second"], j["generation_tokens_per_second"]
lb, sb = os.path.getsize(os.path.join(out, gguf)), os.path.getsize(os.path.join(out, pack))
print(f"| {gguf} vs {pack} | {round_} | {prompt} | {lb:,} | {lp:.1f} | {lg:.1f} | {sb:,} | {sp:.1f} | {sg:.1f} | {sp / lp:.2f} | {sg / lg:.2f} |")
PY

echo "## speed: prompt $prompt tokens, generation $gen, $threads threads (tokens/s; llama-bench mean of 3, slmc bench one run)"
echo "| pair | round | prompt | llama.cpp bytes | llama.cpp prompt | llama.cpp gen | slmc bytes | slmc prompt | slmc gen | prompt ratio | gen ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq "$rounds"); do
  for p in ${prompt//,/ }; do
    for pair in "f32.gguf f32.slmc" "q8_0.gguf q8.slmc" "q4_0.gguf q4.slmc"; do
      set -- $pair
      "$LLAMA_CPP_BIN/llama-bench" -m "$out/$1" -p "$p" -n "$gen" -t "$threads" -r 3 -o csv > "$out/llama-bench.csv" 2>/dev/null
      "$slmc" bench "$out/$2" --prompt "$p" -n "$gen" --no-bandwidth --json "$out/slmc-bench.json" > /dev/null
      python3 "$out/row.py" "$1" "$2" "$round" "$p" "$out"
    done
  done
done

# Time to first token: a whole process each (open the model, prefill a prompt of about 64 tokens,
# generate one), as a user starting either tool sees it; medians of 5, interleaved.
echo
echo "## time to first token (whole process: load + prefill of about 64 tokens + 1 token), medians of 5"
prompt_text="The game began development in 2010 , carrying over a large portion of the work done on Valkyria Chronicles II . While it retained the standard features of the series , it also underwent multiple adjustments , such as making the game more forgiving for series newcomers ."
python3 - "$LLAMA_CPP_BIN/llama-simple" "$slmc" "$out" "$prompt_text" << 'PY'
import statistics, subprocess, sys, time
llama, slmc, out, prompt = sys.argv[1:5]
for gguf, pack in (("f32.gguf", "f32.slmc"), ("q8_0.gguf", "q8.slmc"), ("q4_0.gguf", "q4.slmc")):
    runs = {"llama": [], "slmc": []}
    for _ in range(5):
        for who, cmd in (("llama", [llama, "-m", f"{out}/{gguf}", "-n", "1", prompt]),
                         ("slmc", [slmc, "run", f"{out}/{pack}", "-p", prompt, "-n", "1", "--temperature", "0"])):
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            runs[who].append(time.perf_counter() - start)
    l, s = statistics.median(runs["llama"]), statistics.median(runs["slmc"])
    print(f"{gguf} vs {pack}: llama.cpp {l * 1000:.0f} ms, slmc {s * 1000:.0f} ms, ratio {s / l:.2f}")
PY

# Greedy tokens: the same model in both runtimes, as slmc's exact GGUF export and as its pack.
# F32 is the check that both compute the same function (no activation coding on either side).
# At int4 llama.cpp codes the activations as int8 (Q8_0) and slmc as two int8 digits by default,
# so the two can part at the first near-tie; the line says where (characters in common).
greedy() {  # greedy NAME GGUF PACK
  local same=0 total=0 p llama ours common
  for p in "The capital of France is" "Once upon a time, there was a little" "def fibonacci(n):" "The three primary colors are"; do
    llama=$("$LLAMA_CPP_BIN/llama-simple" -m "$2" -n 32 "$p" 2> /dev/null)
    ours=$("$slmc" run "$3" -p "$p" -n 32 --temperature 0 2> /dev/null)
    total=$((total + 1))
    if [ "$llama" = "$ours" ]; then
      same=$((same + 1))
    else
      common=$(python3 -c 'import os, sys; print(len(os.path.commonprefix(sys.argv[1:3])), len(sys.argv[1]))' "$llama" "$ours")
      echo "  $1 parts after ${common% *} of ${common#* } characters: llama.cpp $(printf %q "$llama")"
      echo "  $(printf '%*s' ${#1} '')                          slmc $(printf %q "$ours")"
    fi
  done
  echo "$1: greedy continuations (32 tokens) equal: $same of $total"
}
echo
echo "## greedy tokens: llama-simple on slmc's GGUF export vs slmc run on its pack, same model"
greedy f32 "$out/f32.gguf" "$out/f32.slmc"
"$slmc" -q quantize "$src" --method rtn --bits 4 --group-size 32 -o "$out/q4-dir" --force > /dev/null
"$slmc" -q export "$out/q4-dir" --format gguf --exact -o "$out/q4-export.gguf" --force
"$slmc" -q export "$out/q4-dir" --format pack -o "$out/q4-export.slmc" --force
greedy "int4 g32 (Q4_0)" "$out/q4-export.gguf" "$out/q4-export.slmc"

# Perplexity on the same targets: llama-perplexity's chunks of 512 (each scores its second half)
# and `slmc eval --second-half` on the same tokens, for the same two models.
echo
echo "## perplexity, first ${PPL_CHUNKS:-4} chunks of 512 of WikiText-2 test (second halves scored)"
data=${SLMC_DATA:-../shared/data}
ppl_chunks=${PPL_CHUNKS:-4}
for pair in "f32.gguf f32.slmc" "q4-export.gguf q4-export.slmc"; do
  set -- $pair
  llama=$("$LLAMA_CPP_BIN/llama-perplexity" -m "$out/$1" -f "$data/wikitext-2/test.txt" -c 512 --chunks "$ppl_chunks" \
    -t "$threads" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  ours=$("$slmc" -q eval "$out/$2" --data "$data/wikitext-2/test.txt" --data-format text --ctx 512 --second-half \
    --max-tokens $((ppl_chunks * 512)) | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
  python3 -c 'import sys; l, s = float(sys.argv[2]), float(sys.argv[3]); print(f"{sys.argv[1]}: llama-perplexity {l:.4f}, slmc eval {s:.4f}, relative difference {abs(l - s) / s:.2e}")' "$1" "$llama" "$ours"
done
