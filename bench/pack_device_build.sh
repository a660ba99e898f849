#!/bin/bash
# Copies the binaries a device run needs from build-cuda/ into a lean build-dev/ (stripped, with
# the shared libraries that may be missing on the GPU machine), so the carried tree stays small.
set -eu
cd "$(dirname "$0")/.."
rm -rf build-dev && mkdir -p build-dev/lib
for b in adrs-worker adrs_cuda_tests adrs-bench; do
  strip -o build-dev/$b build-cuda/$b
done
for lib in $(ldd build-cuda/adrs-worker build-cuda/adrs_cuda_tests build-cuda/adrs-bench | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in libc.so*|libm.so*|libstdc++*|libgcc_s*|ld-linux*) continue ;; esac
  cp -L "$lib" build-dev/lib/
done
du -sh build-dev
