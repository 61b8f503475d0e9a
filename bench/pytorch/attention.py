"""The same operations as the kit's bench, in PyTorch eager, for a side-by-side comparison.

Run by `bench` itself when PyTorch is importable (`python3 -c "import torch"`), in the same invocation:
    python3 bench/pytorch/attention.py --device cuda --sizes 512,1024 --head-dims 64,128 --dtypes bf16 \
        --batch 4 --heads 16 --kv-heads 4 --cases sdpa,sdpa-causal
It prints one JSON object per measured row: {"case", "batch", "heads", "kv_heads", "tokens", "head_dim", "dtype", "ms"}.

Protocol (the same as AttnKit.Bench.BenchTimer): warm up; calibrate k steps per repeat so that a repeat lasts at
least 20 ms; per repeat synchronize, read the clock, run k steps, synchronize, read the clock; report the median.
Uses only torch.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def timed(step, device, warmup=3, repeats=10, min_repeat_ms=20.0):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    for _ in range(max(1, warmup)):
        step()
    sync()
    t0 = time.perf_counter()
    step()
    sync()
    one = max((time.perf_counter() - t0) * 1000.0, 1e-3)
    k = int(min(max(-(-min_repeat_ms // one), 1), 10_000))
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        sync()
        times.append((time.perf_counter() - t0) * 1000.0 / k)
    return statistics.median(times)


def make_case(name, b, h, hkv, n, d, dtype, device):
    g = torch.Generator().manual_seed(1234)

    def r(*shape, grad=False):
        t = torch.randn(*shape, generator=g).to(device=device, dtype=dtype)
        return t.requires_grad_(grad)

    if name in ("sdpa", "sdpa-causal"):
        q, k, v = r(b, h, n, d), r(b, h, n, d), r(b, h, n, d)
        causal = name == "sdpa-causal"
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    if name == "sdpa-gqa-causal":
        q, k, v = r(b, h, n, d), r(b, hkv, n, d), r(b, hkv, n, d)
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    if name == "sdpa-causal-fwd+bwd":
        q, k, v = r(b, h, n, d, grad=True), r(b, h, n, d, grad=True), r(b, h, n, d, grad=True)
        grad = torch.randn(b, h, n, d, generator=g).to(device=device, dtype=dtype)

        def step():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            o.backward(grad)
        return step
    if name.startswith("masked-"):
        q, k, v = r(b, h, n, d), r(b, h, n, d), r(b, h, n, d)
        i = torch.arange(n, device=device).view(-1, 1)
        j = torch.arange(n, device=device).view(1, -1)
        kind, size = name.split("-")[1], int(name.split("-")[2])
        if kind == "window":
            mask = (j <= i) & (i - j < size)
        elif kind == "prefix":
            mask = (j < size) | (j <= i)
        else:  # document: size equal documents, causal inside each
            doc = torch.arange(n, device=device) // (n // size)
            mask = (doc.view(-1, 1) == doc.view(1, -1)) & (j <= i)
        mask = mask.view(1, 1, n, n)
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if name == "decode-static-cache":
        kc, vc = r(b, hkv, n + 1, d), r(b, hkv, n + 1, d)
        q, kn, vn = r(b, h, 1, d), r(b, hkv, 1, d), r(b, hkv, 1, d)
        kview, vview = kc.narrow(2, 0, n + 1), vc.narrow(2, 0, n + 1)
        kslot, vslot = kc.narrow(2, n, 1), vc.narrow(2, n, 1)
        gqa = hkv != h

        def step():
            kslot.copy_(kn)
            vslot.copy_(vn)
            return F.scaled_dot_product_attention(q, kview, vview, enable_gqa=gqa)
        return step
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--sizes", required=True)
    p.add_argument("--head-dims", required=True)
    p.add_argument("--dtypes", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--kv-heads", type=int, required=True)
    p.add_argument("--decode-batch", type=int, default=None)
    p.add_argument("--cases", required=True)
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args()
    device = torch.device(a.device)
    for case in a.cases.split(","):
        for dtype_name in a.dtypes.split(","):
            for d in map(int, a.head_dims.split(",")):
                for n in map(int, a.sizes.split(",")):
                    b = a.decode_batch if case.startswith("decode") and a.decode_batch else a.batch
                    try:
                        step = make_case(case, b, a.heads, a.kv_heads, n, d, DTYPES[dtype_name], device)
                        if step is None:
                            continue
                        ms = timed(step, device, repeats=a.repeats)
                        row = {"case": case, "batch": b, "heads": a.heads, "kv_heads": a.kv_heads, "tokens": n,
                               "head_dim": d, "dtype": dtype_name, "ms": ms}
                    except Exception as e:  # report, go on with the next row
                        row = {"case": case, "batch": b, "tokens": n, "head_dim": d, "dtype": dtype_name, "error": str(e)}
                    print(json.dumps(row), flush=True)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
