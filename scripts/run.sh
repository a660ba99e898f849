#!/usr/bin/env bash
# The main job: installs dependencies, builds adrs into build/, and runs the offline evolution demo
# (runs/demo.toml: the CPU backend, no network) from the starter masker. Ends by printing the best
# candidate and the commands to inspect it. Extra arguments go to `adrs run` (e.g. --max-candidates 100).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADRS_WERROR="${ADRS_WERROR:-OFF}"
fi
# Only the programs the run needs (the tests build with scripts/build.sh or scripts/test.sh).
cmake --build build --parallel "$(nproc)" --target adrs adrs-worker
name="demo-$(date +%Y%m%d-%H%M%S)"
build/adrs run --config runs/demo.toml --name "$name" "$@"
