#!/usr/bin/env python3
"""Train `longlm`: a byte-level Llama-architecture model with a 4k context, for a real trace.

Unlike `tinylm` (a toy: 4 layers that memorized 10 MiB of Python), this model is meant to show what
large models show in their attention: a sink on the first token and a spread of head entropies.
The sink literature (Gu et al., ICLR 2025, "When Attention Sink Emerges in Language Models") finds
sinks after effective optimization on enough varied data, placed where every sequence has the same
first token. So: every training sequence starts with BOS (id 256); the corpus is as large and varied
as the machine allows (tools/text_corpus.py: Python, C/C++/CUDA headers, documentation, man pages,
licenses), read at most about once; AdamW with weight decay, warmup and a cosine schedule over a
wall-clock budget; bf16 autocast; torch.compile when it works (eager otherwise).

The model is randomly initialized from a LlamaConfig (nothing comes from a hub): head_dim 128,
grouped-query attention. It writes a Hugging Face checkpoint that tools/dump_attention_trace.py
loads with --byte-level, training.json (config, corpus manifest, tokens seen, losses, time) and
heldout.json (files never trained on, by category, for trace prompts).

Example (what made workloads/longlm.safetensors; see docs/TRACE_longlm.md):
  python3 tools/train_longlm.py --out /tmp/longlm --seconds 390
"""
import argparse
import json
import math
import os
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import text_corpus  # noqa: E402

BOS = 256


def make_config(args):
    return LlamaConfig(
        vocab_size=BOS + 1, hidden_size=args.heads * 128, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=128, max_position_embeddings=args.max_positions, rope_theta=args.rope_theta,
        bos_token_id=BOS, eos_token_id=None, pad_token_id=None, tie_word_embeddings=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="checkpoint directory to write")
    ap.add_argument("--seconds", type=float, default=390.0, help="wall-clock budget for training (compile included)")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=6, help="query heads; hidden size is heads * 128")
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=2048)
    ap.add_argument("--context", type=int, default=4096, help="training sequence length, BOS included")
    ap.add_argument("--max-positions", type=int, default=8192, help="max_position_embeddings written to the config")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus-scale", type=float, default=1.0, help="multiplies every category's byte cap")
    ap.add_argument("--corpus-cache", default="/tmp/longlm-corpus.bin", help="reuse the assembled corpus between runs")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()

    if not torch.cuda.is_available():
        sys.exit("train_longlm: no CUDA device; this script trains on a GPU")
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    wall_start = time.time()

    manifest_path = args.corpus_cache + ".json"
    if os.path.exists(args.corpus_cache) and os.path.exists(manifest_path):
        with open(args.corpus_cache, "rb") as f:
            text = f.read()
        with open(manifest_path) as f:
            manifest, heldout = json.load(f)
        print(f"corpus: reused {args.corpus_cache}", flush=True)
    else:
        corpus = text_corpus.collect(scale=args.corpus_scale)
        text = text_corpus.concatenate(corpus, seed=args.seed)
        manifest = text_corpus.describe(corpus)
        heldout = corpus.heldout
        with open(args.corpus_cache, "wb") as f:
            f.write(text)
        with open(manifest_path, "w") as f:
            json.dump([manifest, heldout], f)
    print(f"corpus: {len(text) / 2**20:.1f} MiB, {json.dumps(manifest)}", flush=True)
    if len(text) < args.context * 64:
        sys.exit(f"train_longlm: only {len(text)} bytes of text found; see tools/text_corpus.py CATEGORIES")
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).cuda()

    config = make_config(args)
    model = LlamaForCausalLM(config).cuda()
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.2f} M parameters, config {config.to_json_string(use_diff=True)}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    span = args.context - 1
    window = torch.arange(span, device="cuda")

    def batch(size):
        starts = torch.randint(0, len(data) - span, (size,), device="cuda", generator=gen)
        body = data[starts[:, None] + window].long()
        return torch.cat([torch.full((size, 1), BOS, dtype=torch.long, device="cuda"), body], dim=1)

    def loss_of(m, x):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return m(input_ids=x, labels=x).loss

    forward = model
    compiled = False
    start = time.time()   # the budget includes compiling
    if not args.no_compile:
        try:
            forward = torch.compile(model)
            loss_of(forward, batch(args.batch)).backward()
            opt.zero_grad(set_to_none=True)
            compiled = True
        except Exception as e:  # noqa: BLE001 - any compiler failure falls back to eager
            print(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); training eagerly", flush=True)
            forward = model
    model.train()
    print(f"compile: {compiled}, {time.time() - start:.0f}s; {time.time() - wall_start:.0f}s since start", flush=True)
    step, losses, log = 0, [], []
    while True:
        elapsed = time.time() - start
        if elapsed >= args.seconds:
            break
        frac = elapsed / args.seconds
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_of(forward, batch(args.batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            value = loss.item()
            tokens = (step + 1) * args.batch * args.context
            log.append([step, round(elapsed, 1), value])
            print(f"step {step:5d}  t {elapsed:6.1f}s  lr {lr:.2e}  loss {value:.4f} nats/byte  "
                  f"{tokens / max(elapsed, 1e-9) / 1e3:.0f} k tokens/s", flush=True)
        step += 1
    train_seconds = time.time() - start
    tokens_seen = step * args.batch * args.context
    print(f"trained {step} steps ({tokens_seen / 1e6:.1f} M tokens, {tokens_seen / len(text):.2f} epochs) "
          f"in {train_seconds:.1f}s", flush=True)

    model.eval()
    with torch.no_grad():
        for _ in range(8):
            losses.append(loss_of(model, batch(8)).item())
    final = sum(losses) / len(losses)
    heldout_loss = None
    long_docs = [h for h in heldout if h[2] >= args.context]
    if long_docs:
        xs = []
        for _, path, _ in long_docs[:16]:
            raw = text_corpus.read_text(path) or b""
            if len(raw) >= span:
                xs.append([BOS] + list(raw[:span]))
        if xs:
            with torch.no_grad():
                heldout_loss = loss_of(model, torch.tensor(xs, device="cuda")).item()
    print(f"final loss: train distribution {final:.4f}, held-out files {heldout_loss} nats/byte", flush=True)

    os.makedirs(args.out, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(args.out)   # the trace is dumped from these bf16 weights
    by_category = {}
    for category, path, size in heldout:
        by_category.setdefault(category, []).append([path, size])
    with open(os.path.join(args.out, "heldout.json"), "w") as f:
        json.dump(by_category, f, indent=0)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"parameters": params, "config": config.to_dict(), "args": vars(args), "compiled": compiled,
                   "steps": step, "tokens_seen": tokens_seen, "epochs": tokens_seen / len(text),
                   "train_seconds": train_seconds, "final_train_loss": final, "heldout_loss": heldout_loss,
                   "loss_log": log, "corpus": manifest, "gpu": torch.cuda.get_device_name(),
                   "torch": torch.__version__}, f, indent=1, default=str)
    print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()
