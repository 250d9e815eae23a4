#!/usr/bin/env bash
# Fuzzes the .slmc pack reader (fuzz/pack_reader_fuzz.cpp), the GGUF reader
# (fuzz/gguf_reader_fuzz.cpp), the tokenizer.json reader and the checkpoint headers (config.json,
# safetensors, llama2.c: fuzz/config_json_fuzz.cpp, safetensors_header_fuzz.cpp,
# llama2c_header_fuzz.cpp) with libFuzzer + ASan + UBSan, each for SLMC_FUZZ_SECONDS; exits
# non-zero on any crash, leak, sanitizer report or timeout.
#   bash scripts/fuzz.sh                         # 60 s per target
#   SLMC_FUZZ_SECONDS=600 bash scripts/fuzz.sh   # longer
# Needs clang (Debian: apt-get install clang). The fuzz target is built in build-fuzz/ (a clang
# build of the LibTorch-free core only); the seed corpus is packs that `slmc export` writes from
# the tiny fixture models, using build/apps/slmc (built first when missing; SLMC_BINARY
# overrides); the GGUF seeds are tests/fixtures/gguf/*.gguf. The growing corpora stay in
# build-fuzz/corpus and build-fuzz/corpus-gguf, crash inputs in build-fuzz/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SLMC_FUZZ_SECONDS:-60}
fuzz_dir=build-fuzz
slmc=${SLMC_BINARY:-build/apps/slmc}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)" >&2; exit 1; }

# Every library compiled with the sanitizers and coverage instrumentation; UB is fatal.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  cmake -S . -B "$fuzz_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$san -fsanitize=fuzzer-no-link" -DCMAKE_CXX_FLAGS="$san -fsanitize=fuzzer-no-link" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" \
    -DSLMC_BUILD_FUZZ=ON -DSLMC_BUILD_TESTS=OFF -DSLMC_BUILD_BENCH=OFF >/dev/null
fi
ninja -C "$fuzz_dir" pack_reader_fuzz gguf_reader_fuzz

if [ ! -x "$slmc" ]; then
  [ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C build slmc
fi

# Seeds: a float pack with a (small) tokenizer file, and RTN-quantized packs covering every bit
# width, symmetric and asymmetric, grouped and per-channel.
seeds="$fuzz_dir/seeds" corpus="$fuzz_dir/corpus" work="$fuzz_dir/seed-work"
rm -rf "$seeds" "$work"
mkdir -p "$seeds" "$corpus" "$work" "$fuzz_dir/crashes"
model=tests/fixtures/reference/tiny-llama-bf16
"$slmc" -q export "$model" -o "$seeds/float.slmc" --tokenizer tests/fixtures/tokenizers/tiny-sp/tokenizer.json
for scheme in "4 16" "3 0 --asymmetric" "2 16 --asymmetric" "8 0"; do
  read -r bits group asym <<<"$scheme"
  "$slmc" -q quantize "$model" --method rtn --bits "$bits" --group-size "$group" ${asym:-} -o "$work/int$bits" >/dev/null
  "$slmc" -q export "$work/int$bits" -o "$seeds/int$bits.slmc"
done
for s in "$seeds"/*.slmc; do "$slmc" verify "$s" >/dev/null; done
rm -rf "$work"
echo "fuzz: $(ls "$seeds" | wc -l) seed packs; fuzzing the pack reader for ${seconds}s"

"$fuzz_dir/fuzz/pack_reader_fuzz" "$corpus" "$seeds" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$fuzz_dir/crashes/"
echo "fuzz: pack reader: no crash in ${seconds}s"

gguf_seeds="$fuzz_dir/seeds-gguf"
rm -rf "$gguf_seeds"
mkdir -p "$gguf_seeds" "$fuzz_dir/corpus-gguf"
cp tests/fixtures/gguf/*.gguf "$gguf_seeds"/
echo "fuzz: $(ls "$gguf_seeds" | wc -l) seed GGUF files; fuzzing the GGUF reader for ${seconds}s"
"$fuzz_dir/fuzz/gguf_reader_fuzz" "$fuzz_dir/corpus-gguf" "$gguf_seeds" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$fuzz_dir/crashes/"
echo "fuzz: GGUF reader: no crash in ${seconds}s"


# --- tokenizer.json reader (fuzz/tokenizer_json_fuzz.cpp): seeds are the small tokenizer fixtures ---
ninja -C "$fuzz_dir" tokenizer_json_fuzz
tok_seeds="$fuzz_dir/tokenizer-seeds" tok_corpus="$fuzz_dir/tokenizer-corpus"
mkdir -p "$tok_seeds" "$tok_corpus"
cp tests/fixtures/tokenizers/pipelines/base.json "$tok_seeds/"
echo "fuzz: fuzzing the tokenizer.json reader for ${seconds}s"
"$fuzz_dir/fuzz/tokenizer_json_fuzz" "$tok_corpus" "$tok_seeds" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$fuzz_dir/crashes/"
echo "fuzz: tokenizer.json reader, no crash in ${seconds}s"
# --- end tokenizer.json reader ---

# --- checkpoint headers: config.json, safetensors, llama2.c (fuzz/*_header_fuzz.cpp, config_json_fuzz.cpp) ---
ninja -C "$fuzz_dir" config_json_fuzz safetensors_header_fuzz llama2c_header_fuzz
models=${SLMC_MODELS:-../shared/models}
for target in config_json safetensors_header llama2c_header; do
  t_seeds="$fuzz_dir/seeds-$target" t_corpus="$fuzz_dir/corpus-$target"
  rm -rf "$t_seeds"
  mkdir -p "$t_seeds" "$t_corpus"
  case $target in
    config_json) for d in tests/fixtures/reference/*/ tests/fixtures/damaged/*/; do
        cp "$d/config.json" "$t_seeds/$(basename "$d").json"; done ;;
    safetensors_header) for d in tests/fixtures/reference/*/ tests/fixtures/damaged/*/; do
        [ -f "$d/model.safetensors" ] && cp "$d/model.safetensors" "$t_seeds/$(basename "$d").safetensors"; done ;;
    llama2c_header) [ -f "$models/stories260K/stories260K.bin" ] && cp "$models/stories260K/stories260K.bin" "$t_seeds/"
      printf 'ak42\001\000\000\000' >"$t_seeds/v1-header-only.bin"
      cp tests/fixtures/damaged/*.bin "$t_seeds/" ;;
  esac
  echo "fuzz: $(ls "$t_seeds" | wc -l) seeds; fuzzing the $target reader for ${seconds}s"
  "$fuzz_dir/fuzz/${target}_fuzz" "$t_corpus" "$t_seeds" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$fuzz_dir/crashes/"
  echo "fuzz: $target reader: no crash in ${seconds}s"
done
# --- end checkpoint headers ---
