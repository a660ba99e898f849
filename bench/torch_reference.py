#!/usr/bin/env python3
"""Eager-PyTorch reference for adrs's sparse-attention metrics, timed on the data adrs-bench dumps.

It computes the metric the way the published sparse-attention framework does for each layer call:
a dense score matrix q K^T * scale over all keys (K/V repeated for grouped-query attention), a dense
mask tensor holding each kept key's sampling probability p = 1 / weight, exp(s - max) multiplied by
the inverse probabilities, and the numerator and denominator sums; the true output is the dense
softmax, computed once and kept (as adrs keeps its reference). The error of a call is
||O_true - O_sparse||_F / ||O_true||_F over its heads; the metric is the mean over calls.

Per candidate it times: selections (CSR, pinned host memory) up, masks, scores, sums, errors,
synchronized; in fp32 (inputs upcast) and in bf16 (inputs as stored). It also checks its metric
against the one adrs computed (meta.json) and reports the largest relative difference.

usage: python3 bench/torch_reference.py DUMP_DIR [--json FILE] [--reps 3]
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def load(dump):
    meta = json.load(open(os.path.join(dump, "meta.json")))
    layers, cap, hq, hkv = meta["layers"], meta["capacity"], meta["q_heads"], meta["kv_heads"]
    def bf16(name):
        raw = np.fromfile(os.path.join(dump, name), dtype=np.int16)
        return torch.from_numpy(raw).view(torch.bfloat16).reshape(layers, hkv, cap, 128).cuda()
    keys, values = bf16("keys.bf16"), bf16("values.bf16")
    queries = torch.from_numpy(np.fromfile(os.path.join(dump, "queries.f32"), dtype=np.float32))
    queries = queries.reshape(len(meta["calls"]), hq, 128).cuda()
    return meta, keys, values, queries


def load_candidate(dump, name):
    def raw(suffix, dtype):
        return torch.from_numpy(np.fromfile(os.path.join(dump, name + suffix), dtype=dtype)).pin_memory()
    return raw(".offsets.i64", np.int64), raw(".indices.i32", np.int32), raw(".weights.f32", np.float32)


def dense_reference(meta, keys, values, queries):
    """True output per call [H, d] in fp32 (computed once, like adrs's reference pass)."""
    group = meta["q_heads"] // meta["kv_heads"]
    outs = []
    for c, (layer, n) in enumerate(meta["calls"]):
        k = keys[layer, :, :n].float().repeat_interleave(group, dim=0)
        v = values[layer, :, :n].float().repeat_interleave(group, dim=0)
        s = torch.einsum("hd,hnd->hn", queries[c], k) * meta["scale"]
        outs.append(torch.einsum("hn,hnd->hd", torch.softmax(s, dim=-1), v))
    return outs


def sparse_metric(meta, keys, values, queries, truth, offsets_cpu, indices_cpu, weights_cpu, dtype):
    """One candidate's metric, the framework's way; returns (error, per-call errors)."""
    hq, group = meta["q_heads"], meta["q_heads"] // meta["kv_heads"]
    offsets = offsets_cpu.cuda(non_blocking=True)
    indices = indices_cpu.cuda(non_blocking=True).long()
    weights = weights_cpu.cuda(non_blocking=True)
    offsets_host = offsets_cpu.numpy()
    errors = []
    for c, (layer, n) in enumerate(meta["calls"]):
        r0, r1 = c * hq, (c + 1) * hq
        e0, e1 = int(offsets_host[r0]), int(offsets_host[r1])
        counts = offsets[r0 + 1:r1 + 1] - offsets[r0:r1]
        rows = torch.repeat_interleave(torch.arange(hq, device="cuda"), counts, output_size=e1 - e0)
        # Dense mask of sampling probabilities p = 1 / weight (0: not kept).
        prob = torch.zeros(hq, n, device="cuda", dtype=torch.float32)
        prob[rows, indices[e0:e1]] = 1.0 / weights[e0:e1]
        k = keys[layer, :, :n].to(dtype).repeat_interleave(group, dim=0)
        v = values[layer, :, :n].to(dtype).repeat_interleave(group, dim=0)
        s = torch.einsum("hd,hnd->hn", queries[c].to(dtype), k).float() * meta["scale"]
        expo = torch.exp(s - s.max(dim=-1, keepdim=True).values)
        inverse = torch.where(prob > 0, 1.0 / prob, torch.zeros_like(prob))
        weighted = expo * inverse
        num = torch.einsum("hn,hnd->hd", weighted.to(dtype), v).float()
        den = weighted.sum(dim=-1, keepdim=True)
        out = torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))
        errors.append(torch.linalg.norm(truth[c] - out) / torch.linalg.norm(truth[c]))
    errors = torch.stack(errors)
    return errors.mean().item(), errors.cpu().tolist()


def copy_bandwidth():
    x = torch.empty(1 << 30, dtype=torch.int16, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(10):
        t = time.perf_counter()
        y.copy_(x)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * x.numel() * 2 / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump")
    parser.add_argument("--json", default="")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    report["copy_bandwidth_gbs"] = copy_bandwidth() / 1e9
    print(f"torch copy bandwidth (read+write): {report['copy_bandwidth_gbs']:.1f} GB/s")
    meta, keys, values, queries = load(args.dump)
    torch.cuda.synchronize()
    t = time.perf_counter()
    truth = dense_reference(meta, keys, values, queries)
    torch.cuda.synchronize()
    report["dense_reference_s"] = time.perf_counter() - t
    print(f"dense reference (once): {report['dense_reference_s'] * 1e3:.1f} ms")
    print(f"{'candidate':18s} {'dtype':6s} {'torch_ms':>10s} {'adrs_gpu_ms':>12s} {'speedup':>8s} {'error':>10s} {'max_rel_diff':>13s}")
    report["candidates"] = []
    for cand in meta["candidates"]:
        sel = load_candidate(args.dump, cand["name"])
        for dtype in (torch.float32, torch.bfloat16):
            sparse_metric(meta, keys, values, queries, truth, *sel, dtype)  # warm-up
            times = []
            for _ in range(args.reps):
                torch.cuda.synchronize()
                t = time.perf_counter()
                error, per_call = sparse_metric(meta, keys, values, queries, truth, *sel, dtype)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            ours = np.array(cand["call_errors"])
            rel = float(np.max(np.abs(np.array(per_call) - ours) / np.maximum(np.abs(ours), 1e-12)))
            seconds = statistics.median(times)
            name = "fp32" if dtype == torch.float32 else "bf16"
            speedup = seconds / cand["gpu_s"]
            print(f"{cand['name']:18s} {name:6s} {seconds * 1e3:10.1f} {cand['gpu_s'] * 1e3:12.3f} {speedup:7.1f}x "
                  f"{error:10.6f} {rel:13.2e}")
            report["candidates"].append({"name": cand["name"], "dtype": name, "torch_s": seconds, "adrs_gpu_s": cand["gpu_s"],
                                         "adrs_call_s": cand["sparse_errors_call_s"], "speedup_vs_gpu": speedup,
                                         "speedup_vs_call": seconds / cand["sparse_errors_call_s"], "torch_error": error,
                                         "adrs_error": cand["error"], "max_rel_diff_call_error": rel})
    if args.json:
        json.dump(report, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
