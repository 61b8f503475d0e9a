"""Hugging Face transformers' generate on a checkpoint the kit wrote, for a side-by-side comparison with the kit's decoding.

Usage:
    python3 bench/pytorch/generate.py --checkpoint DIR --device cuda --dtype bf16 --prompt-tokens 256 --new-tokens 64 \
        --batches 1,32 [--repeats 3] [--prompt-file FILE] [--expect FILE]
DIR is a Hugging Face Llama-layout folder (config.json and model.safetensors, or shards with their index), as
HuggingFaceCheckpoint.Save writes it; it is loaded with AutoModelForCausalLM.from_pretrained(local_files_only=True).

Prompt: --prompt-file FILE is {"tokens": [[id, ...], ...]}, at least max(batches) rows of equal length (batch b takes
the first b rows); without it, ids drawn uniformly from [0, vocab_size) by a torch.Generator seeded 1234, shape
(b, prompt_tokens).

Decoding is greedy (do_sample=False, use_cache=True) with no end-of-sequence id (the kit's checkpoints have none), so
every generate makes exactly the asked number of new tokens (checked). Two rows per batch size: hf-generate-b{b} (the
default dynamic cache) and hf-generate-static-b{b} (cache_implementation="static"; an error row when it fails).

Protocol (decode excluding prefill, as the kit's decode rows): one warm-up generate of T new tokens; then per repeat a
synchronized, timed generate of 1 new token (the prefill) and one of T new tokens; medians over --repeats.
decode_ms = t(T) - t(1); ms_per_token = decode_ms / (T - 1); tokens_per_s = b * (T - 1) / (decode_ms / 1000);
prefill_ms = t(1).

Output: one JSON object per row: {"case", "batch", "prompt_tokens", "new_tokens", "dtype", "ms_per_token",
"tokens_per_s", "prefill_ms", "attn_implementation", "transformers", "torch", "tokens_b0"} (tokens_b0: row 0's new
tokens); with --expect FILE ({"b1": [id, ...]}: the kit's greedy new tokens for batch 1, row 0) the batch-1 rows also
get "matches_kit", the number of leading new tokens equal to the kit's. A failed row is {"case", "batch", "error"}.
Uses torch and transformers.
"""
import argparse
import json
import statistics
import sys
import time

import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def load_model(folder, dtype, device):
    from transformers import AutoModelForCausalLM, GenerationConfig
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except TypeError:  # transformers 4.x before `dtype=`
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype, local_files_only=True)
    model = model.to(device).eval()
    # The kit's config.json has no token ids, so the Llama config's defaults (bos 1, eos 2) would make generate stop at
    # token 2, or (with min_new_tokens) suppress it and change the greedy tokens. A fresh generation config without
    # them, set on the model too, so that merging the model's defaults into a call's settings cannot bring them back.
    for key in ("eos_token_id", "bos_token_id"):
        if getattr(model.config, key, None) is not None:
            setattr(model.config, key, None)
    model.generation_config = GenerationConfig(do_sample=False, eos_token_id=None, bos_token_id=None, pad_token_id=0)
    return model


def vocab_size(model):
    n = getattr(model.config, "vocab_size", None)
    return int(n) if n else int(model.get_input_embeddings().num_embeddings)


def prompt_ids(args, b, vocab):
    if args.prompt_file:
        rows = json.load(open(args.prompt_file))["tokens"]
        if len(rows) < b:
            raise ValueError(f"{args.prompt_file}: {len(rows)} rows, batch {b} needs {b}")
        rows = rows[:b]
        if len({len(r) for r in rows}) != 1 or not rows[0]:
            raise ValueError(f"{args.prompt_file}: the first {b} rows are empty or of different lengths")
        ids = torch.tensor(rows, dtype=torch.long)
        if int(ids.min()) < 0 or int(ids.max()) >= vocab:  # an id out of range would break the CUDA context
            raise ValueError(f"{args.prompt_file}: token ids must lie in [0, {vocab})")
        return ids
    g = torch.Generator().manual_seed(1234)
    return torch.randint(0, vocab, (b, args.prompt_tokens), generator=g, dtype=torch.long)


def generate(model, ids, mask, new_tokens, cache):
    extra = {"cache_implementation": cache} if cache else {}
    out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                         do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None, **extra)
    if not torch.is_tensor(out):  # a ModelOutput when the generation config asks for a dict
        out = out.sequences
    if out.shape[1] != ids.shape[1] + new_tokens:
        raise RuntimeError(f"generate stopped early: {out.shape[1] - ids.shape[1]} of {new_tokens} new tokens")
    return out


def measure(model, ids, new_tokens, cache, device, repeats):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    mask = torch.ones_like(ids)

    def timed(t):
        sync()
        t0 = time.perf_counter()
        out = generate(model, ids, mask, t, cache)
        sync()
        return (time.perf_counter() - t0) * 1000.0, out

    generate(model, ids, mask, new_tokens, cache)  # warm-up (and, for the static cache, its compilation)
    one, full, first = [], [], None
    for _ in range(max(1, repeats)):
        ms, _ = timed(1)
        one.append(ms)
        ms, out = timed(new_tokens)
        full.append(ms)
        if first is None:
            first = out[0, ids.shape[1]:].tolist()
    return statistics.median(one), statistics.median(full), first


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--batches", default="1,32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prompt-file", default=None)
    p.add_argument("--expect", default=None)
    a = p.parse_args()
    if a.new_tokens < 2:
        p.error("--new-tokens must be at least 2 (decode time is t(T) - t(1))")
    device = torch.device(a.device)
    batches = [int(x) for x in a.batches.split(",") if x.strip()]
    cases = [("hf-generate-b{}", None), ("hf-generate-static-b{}", "static")]
    expect = json.load(open(a.expect)).get("b1") if a.expect else None
    try:
        import transformers
        model = load_model(a.checkpoint, DTYPES[a.dtype], device)
        vocab = vocab_size(model)
    except Exception as e:  # no model: every row is an error row
        for b in batches:
            for name, _ in cases:
                print(json.dumps({"case": name.format(b), "batch": b, "error": f"loading {a.checkpoint}: {e}"}), flush=True)
        return 1
    attn = getattr(model.config, "_attn_implementation", None)
    for b in batches:
        for name, cache in cases:
            case = name.format(b)
            try:
                ids = prompt_ids(a, b, vocab).to(device)
                t1, tt, tokens = measure(model, ids, a.new_tokens, cache, device, a.repeats)
                decode_ms = tt - t1
                if decode_ms <= 0:
                    raise RuntimeError(f"t({a.new_tokens}) = {tt:.3f} ms is not above t(1) = {t1:.3f} ms")
                row = {"case": case, "batch": b, "prompt_tokens": int(ids.shape[1]), "new_tokens": a.new_tokens,
                       "dtype": a.dtype, "ms_per_token": decode_ms / (a.new_tokens - 1),
                       "tokens_per_s": b * (a.new_tokens - 1) / (decode_ms / 1000.0), "prefill_ms": t1,
                       "attn_implementation": attn, "transformers": transformers.__version__,
                       "torch": torch.__version__, "tokens_b0": tokens}
                if expect is not None and b == 1:
                    same = 0
                    for x, y in zip(tokens, expect):
                        if int(x) != int(y):
                            break
                        same += 1
                    row["matches_kit"] = same
            except Exception as e:  # report, go on with the next row
                row = {"case": case, "batch": b, "error": f"{type(e).__name__}: {e}"}
            print(json.dumps(row), flush=True)
            if hasattr(model, "_cache"):  # a static cache generate keeps; free it before the next row
                try:
                    del model._cache
                except AttributeError:
                    pass
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
