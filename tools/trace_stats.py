#!/usr/bin/env python3
"""Per-layer attention statistics of an adrs trace (what `adrs workload info` gives over all rows,
split by model layer), with the softmax in float64 from the stored tensors.

  python3 tools/trace_stats.py workloads/longlm.safetensors

Columns: first-key mass (the sink), mass on the newest 64 keys, normalized entropy, mass of the
top 10% of keys, and the effective number of keys 1 / sum p^2. Needs numpy only.
"""
import json
import struct
import sys

import numpy as np


def read_trace(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    meta = header.pop("__metadata__")

    def tensor(name):
        h = header[name]
        a, b = h["data_offsets"]
        raw = data[a:b]
        if h["dtype"] == "BF16":
            x = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif h["dtype"] == "F16":
            x = np.frombuffer(raw, dtype=np.float16)
        elif h["dtype"] == "I32":
            x = np.frombuffer(raw, dtype=np.int32)
        else:
            x = np.frombuffer(raw, dtype=np.float32)
        return x.reshape(h["shape"])
    return meta, tensor


def main():
    meta, tensor = read_trace(sys.argv[1])
    entries, scale = json.loads(meta["entries"]), float(meta["scale"])
    rows = {}
    for i, entry in enumerate(entries):
        keys = tensor(f"layer.{i}.keys").astype(np.float64)
        queries = tensor(f"layer.{i}.queries").astype(np.float64)
        group = queries.shape[1] // keys.shape[0]
        for step, n in enumerate(tensor(f"layer.{i}.num_keys")):
            for head in range(queries.shape[1]):
                logits = scale * keys[head // group, :n] @ queries[step, head]
                p = np.exp(logits - logits.max())
                p /= p.sum()
                nz = p[p > 0]
                rows.setdefault(entry["layer"], []).append(
                    (p[0], p[-64:].sum(), -(nz * np.log(nz)).sum() / np.log(n), np.sort(p)[::-1][: n // 10].sum(),
                     1.0 / (p ** 2).sum()))
    print(f"{sys.argv[1]}: {meta.get('name')}")
    print("layer  rows  first-key mass mean / max  newest-64 mass  entropy p10/p50/p90  top-10% mass  effective keys p50")
    for layer in sorted(rows):
        a = np.array(rows[layer])
        e10, e50, e90 = np.percentile(a[:, 2], [10, 50, 90])
        print(f"{layer:5d} {len(a):5d}  {a[:, 0].mean():10.5f} / {a[:, 0].max():.5f}  {a[:, 1].mean():14.3f}  "
              f"{e10:.3f}/{e50:.3f}/{e90:.3f}  {a[:, 3].mean():12.3f}  {np.median(a[:, 4]):17.1f}")


if __name__ == "__main__":
    main()
