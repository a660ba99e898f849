#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors, and runs the whole test suite.
# GPU tests skip cleanly when no CUDA device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ADRS_WERROR=ON bash scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
