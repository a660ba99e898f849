#!/usr/bin/env bash
# Configures and builds adrs into build/ (dependencies: scripts/setup.sh, which scripts/run.sh and
# scripts/test.sh run first). Arguments go to `cmake --build` (e.g. --target adrs adrs-worker);
# none builds everything.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Configure every time (cheap when nothing changed) so that an ADRS_WERROR given in the environment
# (scripts/test.sh sets ON) takes effect; without it the cached setting stays.
[[ -f build/CMakeCache.txt ]] && generator=()
werror=()
[[ -n "${ADRS_WERROR:-}" ]] && werror=(-DADRS_WERROR="$ADRS_WERROR")
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${werror[@]}" >/dev/null
cmake --build build --parallel "$(nproc)" "$@"
