#!/bin/bash
# One device call: CUDA tests, adrs-bench, the PyTorch reference on the same data, and an
# end-to-end evaluation of the starter on a preset (E2E=large). Run from the repository root on the GPU machine, with the
# prebuilt binaries carried in build-dev/ (see docs/PERFORMANCE.md); logs and JSON go to $OUT.
set -u
OUT=${OUT:-/tmp/adrs-out}
mkdir -p "$OUT"
ROOT=$PWD
# The binaries hold absolute paths of the machine they were built on (/work/main/build-cuda).
if [ ! -e /work/main ]; then mkdir -p /work && ln -s "$ROOT" /work/main; fi
[ -e /work/main/build-cuda ] || ln -s "$ROOT/build-dev" /work/main/build-cuda
export LD_LIBRARY_PATH=$ROOT/build-dev/lib:${LD_LIBRARY_PATH:-}
export ADRS_CACHE_DIR=/tmp/adrs-cache
B=/work/main/build-cuda
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.total --format=csv > "$OUT/nvidia-smi.txt" 2>&1
cat "$OUT/nvidia-smi.txt"
if [ -n "${FULL_TESTS:-}" ]; then
  echo "== the whole test suite (adrs_tests) on the GPU machine"
  (cd $B && timeout ${FULL_TESTS_TIMEOUT:-420} ./adrs_tests > "$OUT/adrs_tests.log" 2>&1; echo "adrs_tests rc=$?")
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED" "$OUT/adrs_tests.log" | tail -30
fi
echo "== CUDA tests"
(cd $B && timeout 90 ./adrs_cuda_tests > "$OUT/cuda_tests.log" 2>&1; echo "cuda tests rc=$?")
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED|OK \]|FAILED \]" "$OUT/cuda_tests.log" | tail -20
echo "== adrs-bench"
mkdir -p /tmp/dump
timeout 200 $B/adrs-bench ${BENCH_ARGS:-} --json "$OUT/bench.json" --dump /tmp/dump > "$OUT/bench.log" 2>&1
echo "bench rc=$?"; cat "$OUT/bench.log"
echo "== torch reference"
PYTHONUNBUFFERED=1 timeout 150 python3 bench/torch_reference.py /tmp/dump --json "$OUT/torch.json" > "$OUT/torch.log" 2>&1
echo "torch rc=$?"; cat "$OUT/torch.log" | tail -20
if [ -n "${E2E:-}" ]; then
  echo "== end to end: Evaluator on $E2E, device cuda, starter masker"
  timeout ${E2E_TIMEOUT:-240} $B/adrs-bench --skip-kernels --skip-large --e2e "$E2E" --json "$OUT/e2e.json" > "$OUT/e2e.log" 2>&1
  echo "e2e rc=$?"; cat "$OUT/e2e.log" | tail -8
fi
if [ -n "${NCU:-}" ]; then
  echo "== ncu: first reference (tensor-core and CUDA-core) and sparse kernels at n=32768 (bf16)"
  for k in reference_tensor_core reference_partial sparse_partial; do
    timeout 45 ncu --clock-control none -k regex:$k --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
      --section Occupancy $B/adrs-bench --skip-large --sizes 32768 > "$OUT/ncu_$k.log" 2>&1
    echo "ncu $k rc=$?"; grep -E "DRAM Throughput|Memory Throughput|Duration|Achieved Occupancy|Registers|L2 Hit|Mem Busy|Max Bandwidth|Compute \(SM\)" "$OUT/ncu_$k.log" | head -14
  done
fi
