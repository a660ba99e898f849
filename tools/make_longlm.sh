#!/bin/bash
# Remakes workloads/longlm.safetensors on a machine with one CUDA GPU, PyTorch and Transformers,
# in one call of about 9 minutes. Usage: tools/make_longlm.sh OUT_DIR [TRAIN_SECONDS]
# Writes OUT_DIR/longlm.safetensors.part-* (join with cat), train.log, dump.log, training.json,
# heldout.json. The corpus is what the machine has installed (tools/text_corpus.py).
set -euo pipefail
out=${1:?usage: tools/make_longlm.sh OUT_DIR [TRAIN_SECONDS]}
seconds=${2:-360}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1
mkdir -p "$out"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, torch.cuda.get_device_name())'

write_prompts() {  # CHECKPOINT_DIR PREFIX MIN_BYTES: one held-out Python file and one document, as plain text
  TOOLS_DIR=$here python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["TOOLS_DIR"])
import text_corpus
heldout, prefix, need = json.load(open(sys.argv[1] + "/heldout.json")), sys.argv[2], int(sys.argv[3])
specs = []
for kinds in (["python"], ["docs", "man_pages", "licenses", "c_cpp_cuda"]):
    files = [e for kind in kinds for e in heldout.get(kind, [])]
    long_enough = sorted((e for e in files if e[1] >= need), key=lambda e: e[1])
    # the median-sized file that is long enough, else the largest ones joined
    order = [long_enough[len(long_enough) // 2]] if long_enough else sorted(files, key=lambda e: -e[1])
    data, names = b"", []
    for path, size in order:
        if len(data) >= need:
            break
        text = text_corpus.read_text(path)
        if text:
            data += text
            names.append(path)
    if len(data) < need:
        sys.exit(f"only {len(data)} bytes of held-out {kinds}")
    name = f"{prefix}-{kinds[0]}.txt"
    open(name, "wb").write(data)
    print(f"prompt {name}: {len(data)} bytes from {names}", file=sys.stderr)
    specs.append("--prompt-file " + name)
print(" ".join(specs))
PY
}

# 1. Seconds of a tiny model first, on a tiny corpus: the dump must work before the real training.
python3 "$here/train_longlm.py" --out /tmp/longlm-check --seconds 5 --layers 1 --heads 2 --kv-heads 1 \
  --intermediate 256 --context 256 --batch 4 --no-compile --corpus-scale 0.01 --corpus-cache /tmp/check-corpus.bin
prompts=$(write_prompts /tmp/longlm-check /tmp/check 4000)
python3 "$here/dump_attention_trace.py" --model /tmp/longlm-check --byte-level $prompts \
  --prompt-tokens 200 --steps 0,3 --layers 0 --out /tmp/longlm-check.safetensors
echo "dump check passed"

# 2. The real model and its trace: 2 prompts x layers 1,3,5,7 x steps 0,7,15 at 4064..4080 keys (32 MiB).
python3 "$here/train_longlm.py" --out /tmp/longlm --seconds "$seconds" 2>&1 | tee "$out/train.log"
prompts=$(write_prompts /tmp/longlm /tmp/prompt 12000)
python3 "$here/dump_attention_trace.py" --model /tmp/longlm --byte-level $prompts --prompt-tokens 4064 \
  --steps 0,7,15 --layers 1,3,5,7 --name longlm --out /tmp/longlm.safetensors 2>&1 | tee "$out/dump.log"
cp /tmp/longlm/training.json /tmp/longlm/heldout.json "$out/"
head -c 2000 /tmp/prompt-python.txt > "$out/prompt-heads.txt"; head -c 2000 /tmp/prompt-docs.txt >> "$out/prompt-heads.txt"
split -b 15m /tmp/longlm.safetensors "$out/longlm.safetensors.part-"
sha256sum /tmp/longlm.safetensors
ls -l "$out"
