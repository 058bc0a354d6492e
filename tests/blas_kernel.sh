#!/usr/bin/env bash
# Runs one test under one OpenBLAS kernel: blas_kernel.sh KERNEL COMMAND...
# sets OPENBLAS_CORETYPE=KERNEL and runs COMMAND. Exits 77 (ctest: skipped)
# with the reason when this CPU lacks the instructions the kernel needs, or
# when the BLAS ignores the request (an OpenBLAS built without DYNAMIC_ARCH,
# or another BLAS). W2S (the w2s binary) tells which kernel really runs.
set -euo pipefail
kernel=$1
shift
case "$kernel" in
  Prescott) need="sse3" ;;
  Haswell) need="avx2 fma" ;;
  SkylakeX) need="avx512f avx512cd avx512bw avx512dq avx512vl" ;;
  *) echo "blas_kernel.sh: unknown kernel '$kernel'" >&2; exit 2 ;;
esac
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
flags=${flags//pni/sse3} # the kernel calls SSE3 "pni"
for f in $need; do
  if ! grep -qw -- "$f" <<<"$flags"; then
    echo "SKIP: this CPU lacks $f, which OpenBLAS's $kernel kernels need"
    exit 77
  fi
done
export OPENBLAS_CORETYPE=$kernel
got=$("$W2S" --version | sed -n 's/^BLAS: .*kernel \([^,]*\),.*/\1/p')
if [ "$got" != "$kernel" ]; then
  echo "SKIP: OPENBLAS_CORETYPE=$kernel was not honoured (kernel '$got')"
  exit 77
fi
exec "$@"
