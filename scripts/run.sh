#!/usr/bin/env bash
# The main job: installs dependencies, builds, and scores the starter masker on the default workload.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
build/adrs eval masker_template/evolve_masker.cpp --workload default "$@"
