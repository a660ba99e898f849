#!/usr/bin/env bash
# Installs dependencies (scripts/setup.sh), then configures and builds adrs into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADRS_WERROR="${ADRS_WERROR:-OFF}"
fi
cmake --build build --parallel "$(nproc)"
