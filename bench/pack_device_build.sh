#!/bin/bash
# Copies the binaries a device run needs from a CUDA build (build-cuda/, or the folder given) into
# a lean build-dev/ (stripped, with the shared libraries that may be missing on the GPU machine and
# the share/adrs links a build tree has), so the carried tree stays small. The device machine
# cannot build adrs (no SQLite headers there): carry build-dev/ with the call.
# BINARIES overrides the list; a binary the build does not have is left out with a note.
# ARCHIVE=1 also writes build-pack/build-dev.tgz (about half the bytes: CUDA binaries are 12-14 MiB
# each stripped, and a call carries 64 MiB with the checkout's ~46 MiB); carry build-pack instead,
# and bench/device_scale.sh unpacks it.
#   bench/pack_device_build.sh [BUILD_DIR]
#   BINARIES="adrs adrs-worker adrs-bench" ARCHIVE=1 bench/pack_device_build.sh build-cuda
#     (what bench/device_scale.sh needs; adrs-bench only for its scoring-throughput part)
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
carried=build-dev
if [ "${ARCHIVE:-0}" = 1 ]; then
  rm -rf build-pack && mkdir -p build-pack
  tar czf build-pack/build-dev.tgz build-dev
  carried=build-pack
fi
# What a device call carries: the tracked files (and any untracked, unignored ones) plus the pack;
# the limit is 64 MiB.
tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
packed_bytes=$(du -sb $carried | cut -f1)
total=$((tree + packed_bytes))
echo "carry $carried: checkout $((tree / 1048576)) MiB + $carried $((packed_bytes / 1048576)) MiB = $((total / 1048576)) MiB of 64"
[ $total -lt $((64 * 1048576)) ] || { echo "too large for a device call: pack fewer BINARIES or set ARCHIVE=1" >&2; exit 1; }
