#!/usr/bin/env python3
"""Record a causal LM's decode-time attention inputs as an adrs trace (safetensors).

For each prompt the model prefills densely, then decodes token by token (greedy). At the chosen
decode steps and layers it records the query of every query head and the layer's whole KV cache
(keys after the rotary embedding, exactly what attention reads), and writes the adrs trace format
(docs/WORKLOADS.md, "Trace format"). Load it with `adrs eval --workload FILE.safetensors`.

How it records: the model runs with attn_implementation="eager" and this script wraps the
modeling module's eager_attention_forward, which receives (query, key, value) after RoPE and after
the cache update, before grouped heads are repeated. A forward pre-hook on o_proj captures the
model's own attention output, and the script checks that attention recomputed from the recorded
tensors (in float32) matches it, so a trace that does not reproduce the model is never written.

Examples:
  python3 tools/dump_attention_trace.py --model /tmp/tinylm --byte-level \
      --prompt-file a.py --prompt-file b.py --prompt-tokens 2016 --steps 0,7,15,31 --out trace.safetensors
  python3 tools/dump_attention_trace.py --model meta-llama/Llama-3.2-1B --prompt-file doc.txt \
      --prompt-tokens 8000 --layers 0,8,15 --steps 0,31 --dtype bf16 --out llama.safetensors
"""
import argparse
import json
import sys

import torch


def parse_ints(text):
    return [int(x) for x in text.split(",") if x.strip()] if text else []


def load_prompt(paths, tokenizer, byte_level, bos_id, length):
    data = b""
    for path in paths:
        with open(path, "rb") as f:
            data += f.read()
        if len(data) >= length * 8:
            break
    if byte_level:
        ids = [bos_id] + list(data)
    else:
        ids = tokenizer(data.decode("utf-8", errors="replace"), add_special_tokens=True)["input_ids"]
    if len(ids) < length:
        sys.exit(f"dump_attention_trace: prompt from {paths} has {len(ids)} tokens, fewer than --prompt-tokens {length}; "
                 "pass longer text or several --prompt-file for one prompt with '+' (a.txt+b.txt)")
    return ids[:length]


class Recorder:
    """Wraps eager attention: records q/k/v of the chosen layers when one token is decoded."""

    def __init__(self, layers):
        self.layers = set(layers)
        self.active = False
        self.records = {}    # layer -> dict(query=[...], keys, values, num_keys=[...], out=[...])
        self.scale = None

    def wrap(self, original):
        def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
            result = original(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
            layer = getattr(module, "layer_idx", None)
            if self.active and query.shape[2] == 1 and layer in self.layers:
                rec = self.records.setdefault(layer, {"query": [], "num_keys": [], "out": []})
                rec["query"].append(query[0, :, 0, :].float().cpu())
                rec["keys"] = key[0].float().cpu()      # [kv heads, n, d]; the latest step holds all
                rec["values"] = value[0].float().cpu()
                rec["num_keys"].append(key.shape[2])
                rec["out"].append(result[0][0, 0].float().cpu() if result[0].dim() == 4 else None)
                self.scale = float(scaling) if scaling is not None else query.shape[-1] ** -0.5
            return result
        return attention


def check_trace(records, scale, num_q_heads):
    """Max relative difference between attention recomputed from the records and the model's."""
    worst = 0.0
    for rec in records.values():
        keys, values = rec["keys"], rec["values"]
        group = num_q_heads // keys.shape[0]
        for q, n, out in zip(rec["query"], rec["num_keys"], rec["out"]):
            if out is None:
                continue
            k = keys[:, :n].repeat_interleave(group, dim=0)
            v = values[:, :n].repeat_interleave(group, dim=0)
            p = torch.softmax(torch.einsum("hd,hnd->hn", q, k) * scale, dim=-1)
            mine = torch.einsum("hn,hnd->hd", p, v)
            theirs = out.reshape(num_q_heads, -1) if out.numel() == mine.numel() else None
            if theirs is None:
                continue
            worst = max(worst, ((mine - theirs).norm() / theirs.norm().clamp_min(1e-30)).item())
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face model id or checkpoint directory")
    ap.add_argument("--prompt-file", action="append", required=True,
                    help="text file for one prompt (repeatable: one prompt each); 'a.txt+b.txt' joins files")
    ap.add_argument("--prompt-tokens", type=int, default=2016, help="tokens prefilled densely per prompt")
    ap.add_argument("--steps", default="0,7,15,31", help="decode steps to record (0: the first token after the prompt)")
    ap.add_argument("--layers", default="", help="layers to record (default: all)")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"], help="storage dtype of the trace")
    ap.add_argument("--byte-level", action="store_true", help="tokens are bytes plus the config's bos_token_id (tinylm)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--name", default="", help="trace name stored in the metadata")
    ap.add_argument("--out", required=True, help="output .safetensors path")
    args = ap.parse_args()

    import transformers
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.model, attn_implementation="eager")
    model = model.float().to(args.device).eval()
    tokenizer = None
    if not args.byte_level:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = model.config
    num_layers = config.num_hidden_layers
    layers = parse_ints(args.layers) or list(range(num_layers))
    steps = sorted(set(parse_ints(args.steps)))
    if not steps or steps[0] < 0 or any(l < 0 or l >= num_layers for l in layers):
        sys.exit(f"dump_attention_trace: --steps must be >= 0 and --layers in [0, {num_layers})")
    limit = getattr(config, "max_position_embeddings", None)
    if limit and args.prompt_tokens + steps[-1] + 1 > limit:
        sys.exit(f"dump_attention_trace: prompt {args.prompt_tokens} + {steps[-1] + 1} decode steps exceeds the "
                 f"model's context {limit}")

    modeling = sys.modules[type(model.model.layers[0].self_attn).__module__]
    if not hasattr(modeling, "eager_attention_forward"):
        sys.exit(f"dump_attention_trace: {modeling.__name__} has no eager_attention_forward; this transformers "
                 f"version ({transformers.__version__}) or model family is not supported")
    original = modeling.eager_attention_forward

    tensors, entries = {}, []
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    worst_check = 0.0
    for p, spec in enumerate(args.prompt_file):
        ids = load_prompt(spec.split("+"), tokenizer, args.byte_level, config.bos_token_id, args.prompt_tokens)
        recorder = Recorder(layers)
        modeling.eager_attention_forward = recorder.wrap(original)
        try:
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids], device=args.device), use_cache=True)
                cache = out.past_key_values
                token = out.logits[0, -1].argmax()
                for step in range(steps[-1] + 1):
                    recorder.active = step in steps
                    out = model(input_ids=token.view(1, 1), past_key_values=cache, use_cache=True)
                    cache = out.past_key_values
                    token = out.logits[0, -1].argmax()
                    if recorder.active and not recorder.records:
                        sys.exit("dump_attention_trace: decoding called no wrapped attention; the model does not "
                                 "use eager_attention_forward in this transformers version")
        finally:
            modeling.eager_attention_forward = original
        worst_check = max(worst_check, check_trace(recorder.records, recorder.scale, config.num_attention_heads))
        for layer in layers:
            rec = recorder.records[layer]
            i = len(entries)
            tensors[f"layer.{i}.keys"] = rec["keys"].to(dtype).contiguous()
            tensors[f"layer.{i}.values"] = rec["values"].to(dtype).contiguous()
            tensors[f"layer.{i}.queries"] = torch.stack(rec["query"]).to(dtype).contiguous()
            tensors[f"layer.{i}.num_keys"] = torch.tensor(rec["num_keys"], dtype=torch.int32)
            entries.append({"prompt": p, "layer": layer, "steps": steps})
        print(f"prompt {p} ({spec}): {len(ids)} tokens, recorded layers {layers} at steps {steps}", flush=True)
    if worst_check > 1e-3:
        sys.exit(f"dump_attention_trace: recomputed attention differs from the model's by {worst_check:.2e} "
                 "(relative); the recorded tensors are not what the model attended with; nothing written")
    metadata = {
        "format": "adrs-attention-trace", "version": "1", "name": args.name or "trace",
        "model": args.model, "scale": repr(recorder.scale), "entries": json.dumps(entries),
        "prompts": json.dumps(args.prompt_file), "prompt_tokens": str(args.prompt_tokens),
        "transformers": transformers.__version__, "torch": torch.__version__,
    }
    save_file(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out}: {len(entries)} entries, scale {recorder.scale}, max relative check error "
          f"{worst_check:.2e} (float32, before {args.dtype} rounding)", flush=True)


if __name__ == "__main__":
    main()
