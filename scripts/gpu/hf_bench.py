#!/usr/bin/env python3
"""HF transformers side of the GPU benchmark (docs/benchmarks.md): load time to first forward and forward throughput
of a checkpoint on moekit's evaluation windows (tools/hf_eval.py's protocol: bos + text, non-overlapping windows),
in bf16 and fp32, plus fp32 perplexity. Prints one JSON object."""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import torch  # noqa: E402
from hf_eval import windows, load  # noqa: E402

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("model")
p.add_argument("--data", required=True)
p.add_argument("--windows", type=int, default=256)
p.add_argument("--window", type=int, default=256)
p.add_argument("--batch", type=int, default=8)
a = p.parse_args()
wins = windows(a.model, a.data, a.window, a.windows)
out = {"model": a.model, "windows": wins.shape[0], "window": a.window, "batch": a.batch}
for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    model = load(a.model, "cuda", dtype)
    with torch.no_grad():
        model(input_ids=wins[: a.batch].cuda())
    torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    nll = torch.zeros((), dtype=torch.float64, device="cuda")
    with torch.no_grad():
        for i in range(0, wins.shape[0], a.batch):  # warm-up pass over the same data
            model(input_ids=wins[i:i + a.batch].cuda())
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, wins.shape[0], a.batch):
            ids = wins[i:i + a.batch].cuda()
            logits = model(input_ids=ids).logits
            lp = torch.log_softmax(logits[:, :-1].float(), -1)
            nll += -lp.gather(-1, ids[:, 1:].unsqueeze(-1)).double().sum()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    n = wins.shape[0] * (a.window - 1)
    out[name] = {"load_to_first_forward_s": load_s, "tokens_per_s": wins.numel() / dt, "seconds": dt,
                 "ppl": math.exp(float(nll) / n)}
    del model
    torch.cuda.empty_cache()
json.dump(out, sys.stdout, indent=2)
print()
