#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite with ctest. Real models and text are found
# through SLMC_MODELS / SLMC_DATA (default: ../shared/models, ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C build
cd build
ctest --output-on-failure -j"$(nproc)"
