#!/usr/bin/env python3
"""Train `tinylm`: a toy byte-level Llama-architecture model, for a small real attention trace.

A toy: 4 layers that memorize 10 MiB of Python by repetition; it shows no attention sink and
mostly local attention. The larger, longer-context trace is `longlm` (tools/train_longlm.py).

The model reads bytes (ids 0..255) and a BOS token (id 256) that starts every sequence, so it can
learn an attention sink the way large models do. It trains for a fixed wall-clock budget on text
that exists offline on the training machine (by default Python's standard-library sources), and
saves a Hugging Face checkpoint that tools/dump_attention_trace.py loads with --byte-level.

Held-out text: files whose path hash falls in 1/50 of the hash space are never trained on; their
list is written next to the checkpoint (heldout_files.txt) for the trace prompts.

Example (what made workloads/tinylm.safetensors; see docs/WORKLOADS.md):
  python3 tools/train_tinylm.py --out /tmp/tinylm --seconds 200
"""
import argparse
import hashlib
import json
import math
import os
import sys
import sysconfig
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

BOS = 256


def is_heldout(path):
    return int(hashlib.sha1(path.encode()).hexdigest(), 16) % 50 == 0


def collect_files(roots, max_bytes):
    files = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".py", ".rst", ".txt", ".md")):
                    files.append(os.path.join(dirpath, name))
    train, heldout, total = [], [], 0
    for path in files:
        rel = os.path.relpath(path, roots[0]) if path.startswith(roots[0]) else path
        (heldout if is_heldout(rel) else train).append(path)
    chunks = []
    for path in train:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        chunks.append(data)
        total += len(data)
        if total >= max_bytes:
            break
    return b"".join(chunks), heldout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="checkpoint directory to write")
    ap.add_argument("--corpus", action="append", help="folder of text to train on (repeatable); default: the Python stdlib")
    ap.add_argument("--seconds", type=float, default=200.0, help="wall-clock training budget")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-corpus-mb", type=float, default=256)
    args = ap.parse_args()

    if not torch.cuda.is_available():
        sys.exit("train_tinylm: no CUDA device; this script trains on a GPU")
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    roots = args.corpus or [sysconfig.get_paths()["stdlib"]]
    corpus, heldout = collect_files(roots, int(args.max_corpus_mb * 2**20))
    if len(corpus) < args.context * 16:
        sys.exit(f"train_tinylm: only {len(corpus)} bytes of text under {roots}; pass --corpus DIR")
    print(f"corpus: {len(corpus) / 2**20:.1f} MiB from {roots}; {len(heldout)} held-out files", flush=True)
    data = torch.frombuffer(bytearray(corpus), dtype=torch.uint8).cuda()

    config = LlamaConfig(
        vocab_size=257, hidden_size=args.hidden, intermediate_size=int(args.hidden * 8 / 3 / 64 + 0.5) * 64,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=args.hidden // args.heads, max_position_embeddings=args.context, bos_token_id=BOS,
        eos_token_id=None, pad_token_id=None, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).cuda()
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, config {config.to_json_string()}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    span = args.context - 1
    offsets_in_window = torch.arange(span, device="cuda")

    def batch():
        starts = torch.randint(0, len(data) - span, (args.batch,), device="cuda", generator=gen)
        body = data[starts[:, None] + offsets_in_window].long()
        bos = torch.full((args.batch, 1), BOS, dtype=torch.long, device="cuda")
        return torch.cat([bos, body], dim=1)

    model.train()
    start = time.time()
    step, warmup = 0, 100
    while True:
        elapsed = time.time() - start
        if elapsed >= args.seconds:
            break
        frac = elapsed / args.seconds
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        x = batch()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0:
            print(f"step {step:5d}  t {elapsed:6.1f}s  lr {lr:.2e}  loss {loss.item():.4f} nats/byte", flush=True)
        step += 1
    print(f"trained {step} steps ({step * args.batch * args.context / 1e6:.1f} M tokens) in {time.time() - start:.1f}s", flush=True)

    model.eval()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        losses = []
        for _ in range(4):
            x = batch()
            losses.append(model(input_ids=x, labels=x).loss.item())
    print(f"final train-distribution loss {sum(losses) / len(losses):.4f} nats/byte", flush=True)
    os.makedirs(args.out, exist_ok=True)
    # bf16 halves the checkpoint; the trace is dumped from these (rounded) weights.
    model.to(torch.bfloat16).save_pretrained(args.out)
    with open(os.path.join(args.out, "heldout_files.txt"), "w") as f:
        f.write("\n".join(heldout) + "\n")
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"steps": step, "seconds": args.seconds, "batch": args.batch, "context": args.context,
                   "lr": args.lr, "seed": args.seed, "corpus": roots, "corpus_bytes": len(corpus),
                   "final_loss": sum(losses) / len(losses)}, f, indent=1)
    print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()
