#!/usr/bin/env python3
"""Loads moekit's upcycled checkpoints in Hugging Face transformers and scores them as `moekit eval` does.

Sparse-upcycled (Mixtral or Qwen2-MoE) and BTX (Mixtral) outputs load with stock AutoModelForCausalLM; a BAM output
(config.json with auto_map, model_type moekit_bam) loads with trust_remote_code=True from the modeling code moekit
wrote into the folder. The protocol is tools/hf_eval.py's (and moekit's, docs/design.md): each *.test.txt tokenized
in one piece with the folder's tokenizer.json, bos prepended, non-overlapping windows of --window tokens from the
start, the first --windows of them, every position but each window's first scored; ppl = exp(mean NLL).

Each MODEL argument is a checkpoint folder, optionally followed by `=<moekit eval --json file>` of the same folder and
protocol; then the difference is printed and the exit status is 1 when any domain differs by more than --tolerance
(default 0.1%). Runs offline.

Example (on the GPU machine, after `./moekit eval out/btx --windows 32 --json out/btx-moekit.json` here):
    python3 scripts/hf/check_upcycle.py --data ../shared/data/*.test.txt --windows 32 \
        out/upcycle=out/upcycle-moekit.json out/btx=out/btx-moekit.json out/bam-ekv=out/bam-ekv-moekit.json
"""
import argparse
import importlib.util
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("hf_eval", os.path.join(HERE, "..", "..", "tools", "hf_eval.py"))
hf_eval = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hf_eval)   # windows() and score(): the one protocol implementation


def load(folder, device, dtype):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    remote = "auto_map" in config
    kwargs = {"local_files_only": True, "dtype": dtype}
    if remote:
        kwargs["trust_remote_code"] = True
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    return model.to(device).eval(), config.get("model_type"), type(model).__name__, remote


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="FOLDER or FOLDER=moekit-eval.json")
    p.add_argument("--data", nargs="+", required=True, help="the *.test.txt splits")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--windows", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tolerance", type=float, default=0.001, help="relative perplexity difference allowed (0.001 = 0.1%%)")
    p.add_argument("--json", help="also write all results to this file")
    a = p.parse_args(argv)
    results = []
    worst = 0.0
    print("| checkpoint | class | domain | transformers ppl | moekit eval ppl | difference |")
    print("|---|---|---|---|---|---|")
    for arg in a.models:
        folder, _, mk = arg.partition("=")
        model, model_type, cls, remote = load(folder, a.device, torch.float32)
        moekit = {}
        if mk:
            with open(mk, encoding="utf-8") as f:
                moekit = {d["domain"]: d["perplexity"] for d in json.load(f)["domains"]}
        entry = {"model": folder, "model_type": model_type, "class": cls, "trust_remote_code": remote, "domains": {}}
        for path in a.data:
            domain = os.path.basename(path).split(".")[0]
            wins = hf_eval.windows(folder, path, a.window, a.windows)
            res, _ = hf_eval.score(model, None, wins, a.batch, a.device)
            ppl = res["ppl"]
            ref = moekit.get(domain)
            diff = None if ref is None else ppl / ref - 1
            if diff is not None:
                worst = max(worst, abs(diff))
            entry["domains"][domain] = {"ppl": ppl, "moekit_ppl": ref, "rel_diff": diff, "tokens": res["tokens"]}
            shown = "" if ref is None else f"{ref:.4f}"
            d = "" if diff is None else f"{100 * diff:+.4f}%"
            print(f"| {os.path.basename(folder.rstrip('/'))} | {cls}{' (remote code)' if remote else ''} | {domain} | {ppl:.4f} | {shown} | {d} |")
        results.append(entry)
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"protocol": {"window": a.window, "windows": a.windows}, "results": results}, f, indent=2)
    if worst > a.tolerance:
        print(f"FAIL: largest difference {100 * worst:.4f}% exceeds {100 * a.tolerance:.2f}%", file=sys.stderr)
        return 1
    print(f"largest difference {100 * worst:.4f}% (tolerance {100 * a.tolerance:.2f}%)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
