#!/bin/bash
# One device call for docs/PERFORMANCE.md "Scaling": scoring throughput over 1..N GPUs
# (adrs-bench --scaling), evaluation-bound `adrs run`s on `large` (offline proposer, asynchronous
# schedule) on 1 GPU and on every GPU, with several numbers of CPU-side masker workers, and the
# schedule benchmark (adrs-async-bench). Run from the repository root with the packed binaries in
# $PACK (default build-scale-dev: adrs, adrs-worker, adrs-bench, adrs-async-bench, lib/, share/).
set -u
PACK=${PACK:-build-scale-dev}
OUT=${OUT:-/tmp/adrs-out}
mkdir -p "$OUT" /tmp/xdg /tmp/r
export LD_LIBRARY_PATH=$PWD/$PACK/lib:${LD_LIBRARY_PATH:-}
export ADRS_CACHE_DIR=/tmp/adrs-cache XDG_CACHE_HOME=/tmp/xdg
B=$PWD/$PACK
{ nvidia-smi -L; echo "cores $(nproc)"; free -g | head -2; } | tee "$OUT/machine.txt"
GPUS=$(nvidia-smi -L | wc -l)
if [ "${SCALING:-1}" = 1 ]; then
  echo "== scoring throughput over GPUs (large)"
  timeout 200 $B/adrs-bench --skip-kernels --skip-large --scaling large --scaling-gpus $GPUS --json "$OUT/scaling.json" 2>&1 | grep -v "^$" | tail -8
fi
run() {  # NAME DEVICES EVAL_WORKERS BUDGET
  timeout ${RUN_TIMEOUT:-150} $B/adrs run --config runs/demo.toml --workload large --device cuda --devices $2 --schedule async \
    --parallel 4 --eval-workers $3 --eval-threads 1 --max-candidates $4 --name $1 --runs-dir /tmp/r --quiet > "/tmp/r/$1.log" 2>&1
  echo "run $1 rc=$?"
  $B/adrs status /tmp/r/$1 --json > "/tmp/r/$1.json" 2>/dev/null
  python3 - "$1" "$2" "$3" <<'PY'
import json, sqlite3, sys
name, devices, workers = sys.argv[1:4]
s = json.load(open(f"/tmp/r/{name}.json"))
c = sqlite3.connect(f"/tmp/r/{name}/run.db")
rows = c.execute("select compile_s, worker_s, metrics_s from candidates where status='evaluated' and id > 1").fetchall()
med = lambda xs: sorted(xs)[len(xs) // 2] if xs else 0
print(f"{name}: devices {devices} ({s.get('devices')}), eval_workers {workers}: {s['candidates']['finished']} finished, "
      f"{s['candidates']['per_minute']:.1f} per minute over {s['elapsed_s']:.1f} s; by device {s.get('scored_by_device')}; "
      f"median compile {med([r[0] for r in rows]):.2f} s, worker {med([r[1] for r in rows]):.2f} s, metrics {med([r[2] for r in rows]):.3f} s")
PY
}
if [ "${RUNS:-1}" = 1 ]; then
  CORES=$(nproc)
  echo "== evaluation-bound runs on large (offline proposer, async)"
  run g1-w$CORES 0 $CORES ${BUDGET:-160}
  run gall-w$CORES all $CORES ${BUDGET:-160}
  run gall-w$((CORES / 2)) all $((CORES / 2)) ${BUDGET:-160}
  cat /tmp/r/*.log | grep -iE "error|warn" | head -5
  cp /tmp/r/*.json "$OUT/" 2>/dev/null
fi
if [ "${ASYNC:-1}" = 1 ]; then
  echo "== schedules against a log-normal LLM (scale ${SCALE:-0.1})"
  timeout ${ASYNC_TIMEOUT:-300} $B/adrs-async-bench --adrs $B/adrs --scale ${SCALE:-0.1} --out /tmp/ab --json "$OUT/async.json" 2>&1 | tail -10
fi
