#!/bin/bash
# Copies the binaries a device run needs from a CUDA build (build-cuda/, or the folder given) into
# a lean build-dev/ (stripped, with the shared libraries that may be missing on the GPU machine and
# the share/adrs links a build tree has), so the carried tree stays small. The device machine
# cannot build adrs (no SQLite headers there): carry build-dev/ with the call.
# BINARIES overrides the list; a binary the build does not have is left out with a note.
#   bench/pack_device_build.sh [BUILD_DIR]
#   BINARIES="adrs adrs-worker adrs-bench adrs-async-bench" bench/pack_device_build.sh build-cuda
#     (what bench/device_scale.sh needs)
set -eu
cd "$(dirname "$0")/.."
SRC=${1:-build-cuda}
rm -rf build-dev && mkdir -p build-dev/lib build-dev/share/adrs
BINARIES=${BINARIES:-"adrs adrs-worker adrs_cuda_tests adrs_tests adrs-bench adrs-async-bench"}
packed=""
for b in $BINARIES; do
  if [ ! -x "$SRC/$b" ]; then
    echo "note: $SRC/$b is not built; left out" >&2
    continue
  fi
  strip -o build-dev/$b $SRC/$b
  packed="$packed $b"
done
# Resources are found relative to the executable (util/resources.h): the same relative links to
# the source folders that CMake makes in a build tree, so they resolve in the carried checkout.
for folder in masker_template prompts workloads docs; do ln -s ../../../$folder build-dev/share/adrs/$folder; done
# Only the libraries the GPU machine may lack (it has libcurl, libsqlite3 and libfmt 9, but the
# carried tree must stay under 64 MiB, so curl's dependency chain is not copied).
for lib in $(cd $SRC && ldd $packed | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in libxxhash.so*|libseccomp.so*|libsqlite3.so*|libfmt.so*) cp -L "$lib" build-dev/lib/ ;; esac
done
du -sh build-dev
# What a device call carries: the tracked files plus build-dev (the limit is 64 MiB).
tracked=$(git ls-files -z | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
packed_bytes=$(du -sb build-dev | cut -f1)
total_mib=$(( (tracked + packed_bytes) / 1048576 ))
echo "carried: tracked files $((tracked / 1048576)) MiB + build-dev $((packed_bytes / 1048576)) MiB = $total_mib MiB of 64"
[ $total_mib -lt 64 ] || { echo "too large for a device call: pack fewer BINARIES" >&2; exit 1; }
