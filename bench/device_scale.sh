#!/bin/bash
# The multi-GPU measurement of docs/PERFORMANCE.md ("Every GPU of a host"): candidates per minute
# of an evaluation-bound `adrs run` (offline proposer, asynchronous schedule, the GPU-sized preset
# `large`, evaluation workers on every core) scoring on GPU 0, on GPUs 0,1 and, where the machine
# has them, on 0,1,2,3 (and 0..7), each run for the same wall time, and the ratio to one GPU.
# Then, unless SCALING=0, the scoring throughput of one Evaluator over 1, 2, 4.. GPUs
# (adrs-bench --scaling): the GPU-bound stage alone.
#
# Run from the repository root on the GPU machine with the binaries bench/pack_device_build.sh
# packed into build-dev/ (the device machine cannot build adrs: carry build-dev with the call):
#   here:   cmake -S . -B build-cuda -G Ninja -DADRS_CUDA=ON && \
#           cmake --build build-cuda --target adrs adrs-worker adrs-bench && \
#           BINARIES="adrs adrs-worker adrs-bench" ARCHIVE=1 bench/pack_device_build.sh build-cuda
#   device: bash bench/device_scale.sh      (carry build-pack; kind nvidia-h200-x2 or larger)
# (adrs-bench is only for the scoring-throughput part; without it the carried tree is ~55 MiB
# instead of ~62 of the 64 allowed. ASYNC=1 needs adrs-async-bench, a target of BUILD_TESTING=ON.)
# Writes to $OUT: device_scale.md (the table), device_scale.json (every run's numbers), scaling.json
# (adrs-bench), machine.txt, log.txt.
# Knobs: WALL_S (seconds each run issues candidates, default 75), WORKLOAD (large), EVAL_WORKERS
# (0: one per core), DEVICE_SETS (e.g. "0 0,1"; "cpu" scores on the CPU backend: a dry run of this
# script on a machine without a GPU, e.g. DEVICE_SETS=cpu WORKLOAD=smoke WALL_S=10 SCALING=0);
# RUNS=0 skips the runs; ASYNC=1 also runs the schedule benchmark (adrs-async-bench, SCALE=0.1,
# docs/PERFORMANCE.md "Schedules"; it needs no GPU).
set -u
ROOT=$PWD
B=$ROOT/${PACK:-build-dev}
OUT=${OUT:-/tmp/adrs-out}
WORK=${WORK:-/tmp/adrs-device-scale}
WALL_S=${WALL_S:-75}
WORKLOAD=${WORKLOAD:-large}
EVAL_WORKERS=${EVAL_WORKERS:-0}
rm -rf "$WORK" && mkdir -p "$OUT" "$WORK/runs" "$WORK/xdg"
exec > >(tee "$OUT/log.txt") 2>&1
# A pack carried compressed (ARCHIVE=1 bench/pack_device_build.sh): unpack it first.
if [ ! -d "$B" ] && [ -f "$ROOT/build-pack/build-dev.tgz" ]; then tar xzf "$ROOT/build-pack/build-dev.tgz" -C "$ROOT"; fi
for b in adrs adrs-worker; do
  [ -x "$B/$b" ] || { echo "no $B/$b: pack a build first (bench/pack_device_build.sh) and carry it"; exit 2; }
done
export LD_LIBRARY_PATH=$B/lib:${LD_LIBRARY_PATH:-}
# The value secret of the synthetic workloads (fresh on this machine: all runs share it).
export XDG_CACHE_HOME=$WORK/xdg ADRS_CACHE_DIR=$WORK/cache
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
{ nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; echo "cores $(nproc)"; free -g | head -2; } | tee "$OUT/machine.txt"
if [ -z "${DEVICE_SETS:-}" ]; then
  DEVICE_SETS="0"
  [ "$GPUS" -ge 2 ] && DEVICE_SETS="$DEVICE_SETS 0,1"
  [ "$GPUS" -ge 4 ] && DEVICE_SETS="$DEVICE_SETS 0,1,2,3"
  [ "$GPUS" -ge 8 ] && DEVICE_SETS="$DEVICE_SETS 0,1,2,3,4,5,6,7"
  [ "$GPUS" -ge 1 ] || [ "${RUNS:-1}" = 0 ] || { echo "no GPU visible: nothing to measure (DEVICE_SETS=cpu runs the script on the CPU)"; exit 3; }
fi
started=$SECONDS

# One run: NAME SET. Its summary (--json) goes to $WORK/NAME.json; GPU utilization, sampled every
# second while it runs, to $WORK/NAME.util.
run_one() {
  local name=$1 set=$2 flags sampler=""
  if [ "$set" = cpu ]; then flags="--device cpu"; else flags="--device cuda --devices $set"; fi
  if [ "$GPUS" -ge 1 ]; then
    nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits -l 1 > "$WORK/$name.util" 2>/dev/null &
    sampler=$!
  fi
  local t0=$SECONDS
  (cd "$ROOT" && timeout $((WALL_S + 240)) "$B/adrs" run --config runs/demo.toml --workload "$WORKLOAD" $flags \
    --schedule async --parallel 0 --eval-workers "$EVAL_WORKERS" --eval-threads 1 --max-candidates 1000000 \
    --max-wall-s "$WALL_S" --name "$name" --runs-dir "$WORK/runs" --json > "$WORK/$name.json" 2> "$WORK/$name.err")
  local rc=$?
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  echo "$name: devices $set, rc $rc, $((SECONDS - t0)) s with setup"
  echo "$((SECONDS - t0))" > "$WORK/$name.wall"
  [ $rc = 0 ] || tail -5 "$WORK/$name.err"
}

names=""
[ "${RUNS:-1}" = 1 ] && echo "== evaluation-bound runs on $WORKLOAD: offline proposer, async, $WALL_S s each"
[ "${RUNS:-1}" = 1 ] && for set in $DEVICE_SETS; do
  name="gpus-$(echo "$set" | tr , _)"
  run_one "$name" "$set"
  names="$names $name"
done

[ -n "$names" ] && python3 - "$WORK" "$OUT" "$WORKLOAD" "$WALL_S" $names <<'PY'
import json, os, sqlite3, statistics, sys
work, out, workload, wall_s, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
rows = []
for name in names:
    r = {"run": name, "devices_asked": name.split("-", 1)[1].replace("_", ",")}
    try:
        s = json.load(open(f"{work}/{name}.json"))
    except Exception as e:
        r["error"] = f"no summary: {e}; see log.txt"
        rows.append(r)
        continue
    c = s["candidates"]
    finished = c["finished"] - 1  # the seed was scored at creation, before the timed loop
    r.update(devices=s.get("devices"), elapsed_s=s["elapsed_s"], finished=finished,
             by_status=c["by_status"], scored_by_device=s.get("scored_by_device", {}),
             per_minute=60.0 * finished / s["elapsed_s"] if s["elapsed_s"] > 0 else 0.0,
             wall_with_setup_s=int(open(f"{work}/{name}.wall").read()))
    db = sqlite3.connect(f"{work}/runs/{name}/run.db")
    t = db.execute("select compile_s, worker_s, metrics_s from candidates where status = 'evaluated' and id > 1").fetchall()
    r["median_s"] = {k: statistics.median(x[i] for x in t) if t else None for i, k in enumerate(["compile", "worker", "metrics"])}
    util = {}
    if os.path.exists(f"{work}/{name}.util"):
        for line in open(f"{work}/{name}.util"):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and parts[1].isdigit():
                util.setdefault(parts[0], []).append(int(parts[1]))
    r["gpu_util_mean"] = {g: round(statistics.mean(v), 1) for g, v in util.items()}
    rows.append(r)
base = next((r["per_minute"] for r in rows if "per_minute" in r), None)
for r in rows:
    if "per_minute" in r and base:
        n = len(r["devices_asked"].split(",")) if r["devices_asked"] != "cpu" else 1
        r["ratio_to_first"] = r["per_minute"] / base
        r["ratio_per_gpu"] = r["ratio_to_first"] / n
json.dump({"workload": workload, "wall_s": float(wall_s), "runs": rows}, open(f"{out}/device_scale.json", "w"), indent=2)
fmt = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"
lines = [f"candidates per minute, {workload}, offline proposer, async schedule, {wall_s} s of issuing per run",
         "",
         "| devices | candidates | per minute | ratio to 1 GPU | ratio / GPUs | scored by device (seed included) | mean GPU util % | median compile / worker / metrics s |",
         "|---|---|---|---|---|---|---|---|"]
for r in rows:
    if "error" in r:
        lines.append(f"| {r['devices_asked']} | {r['error']} | | | | | | |")
        continue
    m = r["median_s"]
    lines.append(f"| {r['devices_asked']} | {r['finished']} in {r['elapsed_s']:.0f} s | {r['per_minute']:.1f} | "
                 f"{fmt(r.get('ratio_to_first'), 2)} | {fmt(r.get('ratio_per_gpu'), 2)} | "
                 f"{', '.join(f'{k} {v}' for k, v in sorted(r['scored_by_device'].items()))} | "
                 f"{', '.join(f'{g}: {u}' for g, u in sorted(r['gpu_util_mean'].items())) or '-'} | "
                 f"{fmt(m['compile'], 2)} / {fmt(m['worker'], 2)} / {fmt(m['metrics'], 3)} |")
open(f"{out}/device_scale.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

if [ "${SCALING:-1}" = 1 ] && [ "$GPUS" -ge 1 ] && [ -x "$B/adrs-bench" ]; then
  if [ $((SECONDS - started)) -gt 420 ]; then
    echo "== scoring throughput skipped: $((SECONDS - started)) s used, too little left of a 600 s call"
  else
    echo "== scoring throughput of one Evaluator over 1, 2, 4.. GPUs ($WORKLOAD)"
    (cd "$ROOT" && timeout $((590 - (SECONDS - started))) "$B/adrs-bench" --skip-kernels --skip-large --scaling "$WORKLOAD" \
      --scaling-gpus "$GPUS" --json "$OUT/scaling.json" 2>&1 | grep "^scoring")
  fi
fi
if [ "${ASYNC:-0}" = 1 ]; then
  echo "== schedules against a log-normal LLM (scale ${SCALE:-0.1})"
  timeout ${ASYNC_TIMEOUT:-300} "$B/adrs-async-bench" --adrs "$B/adrs" --scale "${SCALE:-0.1}" --out "$WORK/async" \
    --json "$OUT/async.json" 2>&1 | tail -10
fi
echo "done in $((SECONDS - started)) s; results in $OUT/device_scale.md"
