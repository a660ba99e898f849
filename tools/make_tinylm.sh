#!/bin/bash
# Remakes workloads/tinylm.safetensors (a toy trace; see tools/make_longlm.sh for longlm) on a machine with one CUDA GPU, PyTorch and Transformers.
# Usage: tools/make_tinylm.sh OUT_DIR [TRAIN_SECONDS]
# Writes OUT_DIR/tinylm.safetensors, train.log, dump.log and the checkpoint as model.tar.part-*.
set -euo pipefail
out=${1:?usage: tools/make_tinylm.sh OUT_DIR [TRAIN_SECONDS]}
seconds=${2:-210}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1
mkdir -p "$out"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, torch.cuda.get_device_name())'

pick_prompts() {  # the first 3 held-out stdlib files of at least 8 kB
  python3 - "$1" <<'PY'
import os, sys
files = [l.strip() for l in open(sys.argv[1]) if l.strip().endswith(".py")]
files = [f for f in files if os.path.getsize(f) >= 8000][:3]
print(" ".join("--prompt-file " + f for f in files))
PY
}

# 1. A few seconds of a tiny model first: the dump script must work before the real training.
python3 "$here/train_tinylm.py" --out /tmp/tinylm-check --seconds 5 --layers 1 --context 256 --batch 4
python3 "$here/dump_attention_trace.py" --model /tmp/tinylm-check --byte-level $(pick_prompts /tmp/tinylm-check/heldout_files.txt) \
  --prompt-tokens 200 --steps 0,3 --out /tmp/tinylm-check.safetensors
echo "dump check passed"

# 2. The real model and its trace.
python3 "$here/train_tinylm.py" --out /tmp/tinylm --seconds "$seconds" 2>&1 | tee "$out/train.log"
python3 "$here/dump_attention_trace.py" --model /tmp/tinylm --byte-level $(pick_prompts /tmp/tinylm/heldout_files.txt) \
  --prompt-tokens 2016 --steps 0,7,15,31 --name tinylm --out "$out/tinylm.safetensors" 2>&1 | tee "$out/dump.log"
cp /tmp/tinylm/training.json /tmp/tinylm/heldout_files.txt "$out/"
tar -C /tmp -cf - tinylm | split -b 15m - "$out/model.tar.part-"
ls -l "$out"
