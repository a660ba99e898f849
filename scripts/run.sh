#!/usr/bin/env bash
# The main job: installs dependencies, builds adrs into build/, and runs the offline evolution demo
# (runs/demo.toml: the CPU backend, no network) from the starter masker. Ends by printing the best
# candidate and the commands to inspect it. Extra arguments go to `adrs run` (e.g. --max-candidates 100).
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the programs the run needs (the tests build with scripts/test.sh).
bash scripts/setup.sh
bash scripts/build.sh --target adrs adrs-worker
name="demo-$(date +%Y%m%d-%H%M%S)"
build/adrs run --config runs/demo.toml --name "$name" "$@"
