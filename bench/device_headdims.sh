#!/bin/bash
# One device call for the head-dimension work: the CUDA tests (parity with the CPU backend at
# d = 64, 80, 96, 128, 256 and on the shipped traces), adrs eval --device cuda against --device cpu
# on tinylm and longlm, per-layer trace statistics, and adrs-bench at d = 64, 128, 256.
# Run from the repository root on the GPU machine with the binaries of build/ packed into
# build-dev/ (bench/pack_device_build.sh build); logs go to $OUT.
set -u
OUT=${OUT:-/tmp/adrs-out}
mkdir -p "$OUT"
ROOT=$PWD
# The binaries hold absolute paths of the machine they were built on (/work/main/build).
if [ ! -e /work/main ]; then mkdir -p /work && ln -s "$ROOT" /work/main; fi
[ -e /work/main/build ] || ln -s "$ROOT/build-dev" /work/main/build
export LD_LIBRARY_PATH=$ROOT/build-dev/lib:${LD_LIBRARY_PATH:-}
export ADRS_CACHE_DIR=/tmp/adrs-cache
B=/work/main/build
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
echo "== CUDA tests"
(cd $B && timeout 150 ./adrs_cuda_tests > "$OUT/cuda_tests.log" 2>&1; echo "cuda tests rc=$?")
grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED \]|OK \] CudaKernels|OK \] CudaBackend" "$OUT/cuda_tests.log" | tail -24
grep -B2 -A6 "Failure" "$OUT/cuda_tests.log" | head -40
echo "== adrs eval, cpu vs cuda"
for wl in tinylm workloads/longlm.safetensors; do
  for dev in cpu cuda; do
    timeout 60 $B/adrs eval masker_template/evolve_masker.cpp --workload $wl --device $dev --json > "$OUT/eval.json" 2>/dev/null
    python3 -c "import json,sys; d=json.load(open('$OUT/eval.json')); print('$wl', '$dev', d.get('status'), 'score %.9f error %.9f density %.6f' % (d['score'], d['error'], d['density']))" 2>&1
  done
done
rm -f "$OUT/eval.json"
echo "== per-layer trace statistics"
for wl in workloads/longlm.safetensors workloads/tinylm.safetensors; do timeout 60 python3 tools/trace_stats.py $wl; done 2>&1 | tee "$OUT/trace_stats.txt"
echo "== registers and spills of the tensor-core kernels"
cuobjdump -res-usage $B/adrs-bench 2>/dev/null | grep -A1 "reference_tensor_core" | grep -o "REG:[0-9]*.*STACK:[0-9]*\|Function [^ ]*" | paste - - | sed "s/_ZN4adrs4cuda28reference_tensor_core_kernel//" | head -40
echo "== adrs-bench"
timeout ${BENCH_TIMEOUT:-240} $B/adrs-bench --skip-large --head-dims ${HEAD_DIMS:-64,128,256} --sizes ${SIZES:-8192,16384,32768} \
  --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1
echo "bench rc=$?"; cat "$OUT/bench.log"
