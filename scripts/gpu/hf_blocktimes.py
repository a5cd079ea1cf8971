#!/usr/bin/env python3
"""transformers' side of moekit's per-block timing (eval's BlockTimes, ForwardBench -Dmoekit.blocktimes=true): the
same blocks timed the same way, the device synchronised at every block boundary, summed over one pass of the
evaluation windows (logits, log-softmax and NLL included). Blocks: embedding, norm (input, post-attention, final),
attention, router (the MoE block's gate), experts (the MoE block minus its gate), lm_head, log_softmax; rest = the
pass minus the blocks (residual adds, rotary tables, masks, Python between modules). One untimed warm-up pass and
one untimed timed pass first, then the timed pass with hooks. Prints one JSON object.
Usage: hf_blocktimes.py MODEL --data FILE [--windows 256] [--batch 8] [--dtype bf16|fp32]"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import torch  # noqa: E402
from hf_eval import windows, load  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("model")
p.add_argument("--data", required=True)
p.add_argument("--windows", type=int, default=256)
p.add_argument("--window", type=int, default=256)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--dtype", default="bf16", choices=["bf16", "fp32", "fp16"])
a = p.parse_args()
dtype = {"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[a.dtype]
wins = windows(a.model, a.data, a.window, a.windows)
model = load(a.model, "cuda", dtype)

totals = {}
counts = {}
state = {"on": False}


def charge(block, seconds):
    totals[block] = totals.get(block, 0.0) + seconds
    counts[block] = counts.get(block, 0) + 1


def timed(module, block, subtract=None):
    """Times module's forward as block; with subtract, the time of that child is taken out (charged by its own hook)."""
    def pre(mod, args):
        if state["on"]:
            torch.cuda.synchronize()
            mod._mk_t0 = time.perf_counter()
            mod._mk_child = totals.get(subtract, 0.0) if subtract else 0.0

    def post(mod, args, out):
        if state["on"]:
            torch.cuda.synchronize()
            dt = time.perf_counter() - mod._mk_t0
            if subtract:
                dt -= totals.get(subtract, 0.0) - mod._mk_child
            charge(block, dt)

    module.register_forward_pre_hook(pre)
    module.register_forward_hook(post)


found = {}
for name, mod in model.named_modules():
    leaf = name.rsplit(".", 1)[-1]
    children = dict(mod.named_children())
    if leaf == "embed_tokens":
        timed(mod, "embedding")
    elif leaf in ("input_layernorm", "post_attention_layernorm") or name == "model.norm":
        timed(mod, "norm")
    elif leaf == "self_attn":
        timed(mod, "attention")
    elif leaf == "lm_head":
        timed(mod, "lm_head")
    elif "gate" in children and "experts" in children:
        timed(children["gate"], "router")
        timed(mod, "experts", subtract="router")
    elif leaf in ("block_sparse_moe", "mlp"):
        timed(mod, "experts")
    else:
        continue
    found[leaf] = found.get(leaf, 0) + 1


def run_pass():
    nll = torch.zeros((), dtype=torch.float64, device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, wins.shape[0], a.batch):
            ids = wins[i:i + a.batch].cuda()
            logits = model(input_ids=ids).logits
            if state["on"]:
                torch.cuda.synchronize()
                s = time.perf_counter()
            lp = torch.log_softmax(logits[:, :-1].float(), -1)
            nll += -lp.gather(-1, ids[:, 1:].unsqueeze(-1)).double().sum()
            if state["on"]:
                torch.cuda.synchronize()
                charge("log_softmax", time.perf_counter() - s)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


run_pass()                      # warm-up
plain = run_pass()
state["on"] = True
timed_s = run_pass()
tokens = wins.numel()
out = {"model": a.model, "dtype": a.dtype, "windows": wins.shape[0], "batch": a.batch, "hooked_modules": found,
       "plain_pass_ms": plain * 1e3, "plain_tokens_per_s": tokens / plain, "timed_pass_ms": timed_s * 1e3,
       "timed_tokens_per_s": tokens / timed_s,
       "blocks_ms": {k: round(v * 1e3, 1) for k, v in totals.items()}, "counts": counts,
       "rest_ms": (timed_s - sum(totals.values())) * 1e3}
json.dump(out, sys.stdout)
print()
