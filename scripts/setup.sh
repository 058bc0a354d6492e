#!/usr/bin/env bash
# Sets up w2s on Debian 12 (as root): installs the Debian packages that are
# missing, configures and builds into ./build. Idempotent: a second run only
# checks and rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(openmpi-bin libopenmpi-dev libscalapack-openmpi-dev libhdf5-openmpi-dev libplplot-dev plplot-driver-cairo
  libopenblas-dev liblapacke-dev libcmocka-dev pkg-config cmake make gcc git
  hdf5-tools librandom123-dev libinih-dev python3-numpy python3-h5py python3-sklearn
  python3-rdkit rdkit-data slurm-wlm munge shellcheck clang clang-tidy libclang-rt-14-dev clang-format cppcheck valgrind)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: error: packages are missing and this is not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/CMakeCache.txt ] || [ ! -f build/Makefile ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j"$(nproc)" >/dev/null
echo "setup: built $(pwd)/build/w2s" >&2
