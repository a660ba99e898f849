#!/usr/bin/env bash
# Issue 5's acceptance experiment: offline runs from the starter on `default` at target density
# 0.10, three seeds, 300 candidates each; reports the first candidate whose error is at or below
# the oracle top-k baseline's (tests/maskers/oracle_topk.cpp, scored by the same evaluator) at
# density <= target. Usage: bench/offline_acceptance.sh [build-dir] [runs-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-runs/acceptance}
mkdir -p "$runs"
baseline=$("$build/adrs" eval tests/maskers/oracle_topk.cpp --workload default --threads 1 --json \
  | sed -n 's/^ *"error": \([0-9.e-]*\),*$/\1/p' | head -1)
echo "oracle top-k error on default: $baseline"
for seed in 1 2 3; do
  "$build/adrs" run --config runs/demo.toml --seed "$seed" --max-candidates 300 --max-wall-s 0 \
    --runs-dir "$runs" --name "offline-seed$seed" --quiet --json > "$runs/seed$seed.json" &
done
wait
for seed in 1 2 3; do
  "$build/adrs" best "$runs/offline-seed$seed" --top 0 --json > "$runs/seed$seed-best.json"
  "$build/adrs" status "$runs/offline-seed$seed"
done
