#!/usr/bin/env bash
# Installs slmc's Debian dependencies (when missing) and builds it in Release mode into build/.
#   bash scripts/setup.sh            # install + configure + build
#   SLMC_SKIP_APT=1 bash scripts/setup.sh   # only configure + build
set -euo pipefail
cd "$(dirname "$0")/.."

# OpenBLAS matters: without it Debian's LibTorch falls back to reference BLAS (15-30x slower).
PACKAGES=(build-essential cmake ninja-build pkg-config clang libclang-rt-dev
  libtorch-dev libgloo-dev libopenblas0-openmp
  libeigen3-dev libcli11-dev libhdf5-dev doctest-dev nlohmann-json3-dev libyaml-cpp-dev libpcre2-dev libutf8proc-dev)

if [ "${SLMC_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# LibTorch calls BLAS through libblas.so.3: say which implementation that resolves to.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) echo "setup: BLAS is $blas" ;;
  *) echo "setup: warning: libblas.so.3 is '$blas', not OpenBLAS: matmuls will be 15-30x slower" \
       "(run: update-alternatives --config libblas.so.3-x86_64-linux-gnu)" >&2 ;;
esac

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build
echo "setup: built build/apps/slmc"
