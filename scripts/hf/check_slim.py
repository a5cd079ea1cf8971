#!/usr/bin/env python3
"""SlimMoE outputs load in stock Hugging Face transformers and score as `moekit eval` scores them.

For each slimmed checkpoint folder: checks that config.json needs no remote code (no auto_map) and states the slimmed
sizes (intermediate/moe_intermediate_size, heads, head_dim), loads it with AutoModelForCausalLM (fp32, offline),
checks every weight's shape against the checkpoint, scores the test splits under moekit's protocol with
tools/hf_eval.py's functions, and compares with `<folder>.moekit.json` (written by `moekit eval <folder> --windows N
--json <folder>.moekit.json`) when present. Prints one table row per domain and exits 1 when any perplexity differs
by more than 0.5%.

Folders (made by scripts/hf/make_slim_outputs.sh, about 55 MB in all), in out/slim-hf/:
    mixtral-slim50-kv3     mixtral-tiny, experts 50%, 3 of 4 KV groups (head_dim written), 2 rounds + KD
    qwen2moe-slim25-kv3    qwen2moe-tiny, experts 25% (shared expert too), 3 of 4 KV groups, q/k/v biases sliced
Usage (device machine, torch 2.11 + transformers 5.17, no network):
    python3 scripts/hf/check_slim.py out/slim-hf/mixtral-slim50-kv3 out/slim-hf/qwen2moe-slim25-kv3 \
        --data out/slim-hf/data/*.test.txt --windows 8
"""
import argparse
import glob
import json
import math
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import torch  # noqa: E402
import hf_eval  # noqa: E402
from safetensors import safe_open  # noqa: E402


def check_config(folder):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    if "auto_map" in c:
        raise SystemExit(f"{folder}: config.json has auto_map (remote code); a slimmed model must load stock")
    heads, kv, hidden = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"]
    hd = c.get("head_dim")
    if heads * (hd or hidden // heads) != hidden and hd is None:
        raise SystemExit(f"{folder}: {heads} heads do not divide hidden {hidden} and head_dim is missing")
    return {k: c.get(k) for k in ("model_type", "intermediate_size", "moe_intermediate_size",
                                  "shared_expert_intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim")}


def check_shapes(folder, model):
    """Every tensor of the checkpoint has the shape of the stock model's parameter of the same name."""
    params = dict(model.state_dict())
    checked = 0
    for f in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        with safe_open(f, framework="pt") as st:
            for name in st.keys():
                shape = tuple(st.get_slice(name).get_shape())
                if name in params and tuple(params[name].shape) != shape:
                    raise SystemExit(f"{folder}: {name} is {shape} on disk, the stock model wants {tuple(params[name].shape)}")
                checked += name in params
    return checked


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+")
    p.add_argument("--data", nargs="+", required=True, help="the *.test.txt splits")
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    worst = 0.0
    print("| checkpoint | config | domain | moekit eval ppl | transformers ppl | difference |")
    print("|---|---|---|---|---|---|")
    for folder in a.folders:
        cfg = check_config(folder)
        model = hf_eval.load(folder, a.device, torch.float32)
        n = check_shapes(folder, model)
        mine = {}
        mj = folder.rstrip("/") + ".moekit.json"
        if os.path.exists(mj):
            with open(mj, encoding="utf-8") as f:
                mine = {d["domain"]: d["perplexity"] for d in json.load(f)["domains"]}
        for data in sorted(a.data):
            domain = os.path.basename(data).split(".")[0]
            wins = hf_eval.windows(folder, data, a.window, a.windows)
            out, _ = hf_eval.score(model, None, wins, 8, a.device)
            ref = mine.get(domain)
            diff = (out["ppl"] / ref - 1) * 100 if ref else float("nan")
            if ref:
                worst = max(worst, abs(diff))
            short = ", ".join(f"{k}={v}" for k, v in cfg.items() if v is not None)
            print(f"| {os.path.basename(folder.rstrip('/'))} ({n} tensors checked) | {short} | {domain} | "
                  f"{ref if ref else float('nan'):.4f} | {out['ppl']:.4f} | {diff:+.4f}% |")
        del model
    print(f"\nlargest difference: {worst:.4f}%")
    return 1 if worst > 0.5 or math.isnan(worst) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
