"""Logits of a Hugging Face Llama-layout checkpoint folder, computed outside the kit, for the kit's cross-check test.

Usage: python3 llama_reference.py FOLDER TOKENS_JSON OUT_JSON

Uses Hugging Face transformers (AutoModelForCausalLM) when it is installed; otherwise an independent float64 PyTorch
implementation of the Llama/Qwen2 forward pass written from the architecture's description (RMSNorm, rotate-half RoPE
with optional linear or llama3 frequency scaling, grouped-query causal attention, SwiGLU, tied or untied head), reading
safetensors with its own parser. OUT_JSON gets {"implementation": ..., "logits": [[[...]]]}.
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        buf = bytearray(data[b:end])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if end > b else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def load_weights(folder):
    weights = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith(".safetensors"):
            weights.update(read_safetensors(os.path.join(folder, f)))
    return {k: v.to(torch.float64) for k, v in weights.items()}


def inv_freq(cfg, dim):
    base = cfg.get("rope_theta", 10000.0)
    freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    s = cfg.get("rope_scaling")
    if not s:
        return freq
    kind = s.get("rope_type", s.get("type"))
    if kind == "linear":
        return freq / s["factor"]
    if kind == "llama3":
        factor, low, high, orig = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        out = []
        for f in freq.tolist():
            wavelen = 2 * math.pi / f
            if wavelen < orig / high:
                out.append(f)
            elif wavelen > orig / low:
                out.append(f / factor)
            else:
                smooth = (orig / wavelen - low) / (high - low)
                out.append((1 - smooth) * f / factor + smooth * f)
        return torch.tensor(out, dtype=torch.float64)
    raise ValueError(f"rope_scaling {kind}")


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate(x, cos, sin, rot):
    xr, rest = x[..., :rot], x[..., rot:]
    h = rot // 2
    rotated = torch.cat([-xr[..., h:], xr[..., :h]], -1)
    return torch.cat([xr * cos + rotated * sin, rest], -1)


def independent_logits(folder, tokens):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = load_weights(folder)
    H, Hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    d_model = cfg["hidden_size"]
    D = cfg.get("head_dim", d_model // H)
    rot = int(D * cfg.get("partial_rotary_factor", 1.0)) // 2 * 2
    eps = cfg.get("rms_norm_eps", 1e-6)
    t = torch.tensor(tokens)
    B, N = t.shape
    x = w["model.embed_tokens.weight"][t]
    ang = torch.arange(N, dtype=torch.float64)[:, None] * inv_freq(cfg, rot)[None, :]
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos(), ang.sin()
    causal = torch.ones(N, N, dtype=torch.bool).tril()
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)

        def proj(name, heads):
            y = h @ w[p + f"self_attn.{name}.weight"].T
            if p + f"self_attn.{name}.bias" in w:
                y = y + w[p + f"self_attn.{name}.bias"]
            return y.view(B, N, heads, D).transpose(1, 2)

        q, k, v = proj("q_proj", H), proj("k_proj", Hkv), proj("v_proj", Hkv)
        q, k = rotate(q, cos, sin, rot), rotate(k, cos, sin, rot)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, N, H * D)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def main():
    folder, tokens_path, out_path = sys.argv[1:4]
    tokens = json.load(open(tokens_path))
    try:
        from transformers import AutoModelForCausalLM  # noqa: F401
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float64)
        with torch.no_grad():
            logits = model(torch.tensor(tokens)).logits
        impl = "transformers"
    except ImportError:
        logits = independent_logits(folder, tokens)
        impl = "independent"
    json.dump({"implementation": impl, "logits": logits.tolist()}, open(out_path, "w"))


if __name__ == "__main__":
    main()
