#!/bin/bash
# Copies the binaries a device run needs from a CUDA build (build-cuda/, or the folder given) into
# a lean build-dev/ (stripped, with the shared libraries that may be missing on the GPU machine),
# so the carried tree stays small. BINARIES overrides the list (adrs_tests is large).
# Usage: bench/pack_device_build.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
SRC=${1:-build-cuda}
rm -rf build-dev && mkdir -p build-dev/lib
BINARIES=${BINARIES:-"adrs adrs-worker adrs_cuda_tests adrs_tests adrs-bench"}
for b in $BINARIES; do
  strip -o build-dev/$b $SRC/$b
done
# Only the libraries the GPU machine may lack (it has libcurl, libsqlite3 and libfmt 9, but the
# carried tree must stay under 64 MiB, so curl's dependency chain is not copied).
for lib in $(cd $SRC && ldd $BINARIES | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in libxxhash.so*|libseccomp.so*|libsqlite3.so*|libfmt.so*) cp -L "$lib" build-dev/lib/ ;; esac
done
du -sh build-dev
