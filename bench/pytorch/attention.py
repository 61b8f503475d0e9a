"""The same operations as the kit's bench, in PyTorch eager, for a side-by-side comparison.

Run by `bench` itself when PyTorch is importable (`python3 -c "import torch"`), in the same invocation:
    python3 bench/pytorch/attention.py --device cuda --sizes 512,1024 --head-dims 64,128 --dtypes bf16 \
        --batch 4 --heads 16 --kv-heads 4 --cases sdpa,sdpa-causal
It prints one JSON object per measured row: {"case", "batch", "heads", "kv_heads", "tokens", "head_dim", "dtype", "ms"}.

Cases (q, k, v are (batch, heads, tokens, head_dim) except where stated):
    sdpa, sdpa-causal                 F.scaled_dot_product_attention, no mask / is_causal
    sdpa-gqa-causal                   k, v with kv_heads heads, enable_gqa
    sdpa-causal-fwd+bwd               forward and backward
    masked-window-W                   a boolean mask tensor: causal and i - j < W
    masked-prefix-P                   a boolean mask tensor: j < P or j <= i
    masked-document-D                 a boolean mask tensor: D equal documents of tokens // D, causal inside each
    flex-causal                       FlexAttention (torch.compile'd flex_attention with a BlockMask): j <= i
    flex-window-W, flex-prefix-P, flex-document-D
                                      FlexAttention with the same masks as the masked-* cases, given as mask_mods
    decode-static-cache               one decode step: write one key/value into a preallocated cache, attend
The flex-* cases compile flex_attention once per shape (torch.compile, dynamic=False) and build the BlockMask once per
row, both before timing; when FlexAttention cannot be imported or compiled the row is an error row.

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


_FLEX = {}


def flex_attention_compiled():
    """flex_attention compiled once for the process (dynamo then compiles it once per shape and mask)."""
    if "fn" not in _FLEX:
        from torch._dynamo import config as cfg
        from torch.nn.attention.flex_attention import flex_attention
        # Every row (shape, dtype, mask_mod) is one more compilation of the same function: allow many, and fail
        # rather than fall back to the slow eager flex_attention when the limit is hit.
        for limit in ("recompile_limit", "cache_size_limit"):
            if hasattr(cfg, limit):
                setattr(cfg, limit, max(getattr(cfg, limit), 1024))
        for limit in ("accumulated_recompile_limit", "accumulated_cache_size_limit"):
            if hasattr(cfg, limit):
                setattr(cfg, limit, max(getattr(cfg, limit), 4096))
        if hasattr(cfg, "fail_on_recompile_limit_hit"):
            cfg.fail_on_recompile_limit_hit = True
        _FLEX["fn"] = torch.compile(flex_attention, dynamic=False)
    return _FLEX["fn"]


def flex_mask_mod(kind, size, n):
    """The mask of masked-<kind>-<size> (or plain causal) as a FlexAttention mask_mod(b, h, q_idx, kv_idx)."""
    if kind == "causal":
        return lambda b, h, q_idx, kv_idx: kv_idx <= q_idx
    if kind == "window":
        return lambda b, h, q_idx, kv_idx: (kv_idx <= q_idx) & (q_idx - kv_idx < size)
    if kind == "prefix":
        return lambda b, h, q_idx, kv_idx: (kv_idx < size) | (kv_idx <= q_idx)
    if kind == "document":  # document of token t: t // (n // size), as in masked-document
        length = n // size
        if length <= 0:
            raise ValueError(f"flex-document-{size}: {size} documents do not fit in {n} tokens")
        return lambda b, h, q_idx, kv_idx: (q_idx // length == kv_idx // length) & (kv_idx <= q_idx)
    raise ValueError(f"unknown flex mask {kind}")


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
    if name.startswith("flex-"):
        parts = name.split("-")
        if parts[1] == "causal" and len(parts) == 2:
            kind, size = "causal", None
        elif parts[1] in ("window", "prefix", "document") and len(parts) == 3:
            kind, size = parts[1], int(parts[2])
        else:
            return None
        from torch.nn.attention.flex_attention import create_block_mask
        q, k, v = r(b, h, n, d), r(b, h, n, d), r(b, h, n, d)
        block_mask = create_block_mask(flex_mask_mod(kind, size, n), B=None, H=None, Q_LEN=n, KV_LEN=n, device=device)
        flex = flex_attention_compiled()

        def step():
            return flex(q, k, v, block_mask=block_mask)
        step()  # compiles here, before timing; an import or compile failure becomes the row's error
        return step
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
