#!/usr/bin/env python3
"""Perplexity (and KL divergence to a reference) of a Hugging Face checkpoint folder, under moekit's protocol.

Protocol (docs/design.md, same as `moekit eval`): tokenize each text file in one piece without special tokens with
the folder's tokenizer.json, prepend bos, cut into non-overlapping windows of --window tokens from the start, keep the
first --windows, score every position but each window's first; ppl = exp(mean NLL). With --reference, KL(P_ref || Q)
of the model's next-token distribution from the reference's on the same windows (mean, median, p90, p99, max, as
llama.cpp reports), top-1 agreement, and the reference's own perplexity.

Runs offline (local_files_only). Needs torch, transformers and tokenizers. Prints one JSON object on stdout.
Example:
    python tools/hf_eval.py out/pruned --data ../shared/data/python.test.txt --reference ../shared/models/mixtral-tiny
"""
import argparse
import json
import math
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint folder (config.json, safetensors, tokenizer.json)")
    p.add_argument("--data", nargs="+", required=True, help="UTF-8 text files, one domain each")
    p.add_argument("--reference", help="reference checkpoint folder for KL divergence and top-1 agreement")
    p.add_argument("--window", type=int, default=256, help="tokens per window (default 256)")
    p.add_argument("--windows", type=int, default=32, help="windows per file (default 32)")
    p.add_argument("--batch", type=int, default=8, help="windows per forward pass (default 8)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--golden", action="store_true",
                   help="also compare with <model>/golden/ppl.json where present (relative difference per domain)")
    return p.parse_args(argv)


def bos_id(folder):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    bos = config.get("bos_token_id")
    if bos is None:
        raise SystemExit(f"{folder}/config.json: no bos_token_id")
    return int(bos)


def windows(folder, text_file, window, count):
    """[n, window] int64 tensor: bos + ids of the whole text, non-overlapping windows from the start."""
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    with open(text_file, encoding="utf-8") as f:
        ids = tok.encode(f.read(), add_special_tokens=False).ids
    seq = [bos_id(folder)] + ids
    n = min(count, len(seq) // window)
    if n == 0:
        raise SystemExit(f"{text_file}: too short for one window of {window} tokens")
    return torch.tensor(seq[: n * window], dtype=torch.long).view(n, window)


def load(folder, device, dtype):
    kwargs = {"local_files_only": True}
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs)
    except TypeError:  # transformers 4.x spells it torch_dtype
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype, **kwargs)
    return model.to(device).eval()


@torch.no_grad()
def log_probs(model, batch):
    """[B, T-1, V] fp32 log-probabilities of the predicting positions."""
    logits = model(input_ids=batch).logits.float()
    return torch.log_softmax(logits[:, :-1, :], dim=-1)


def kl_stats(values):
    v = torch.sort(values.double()).values
    n = v.numel()

    def q(p):  # linear interpolation at rank p*(n-1), as moekit's KlStats
        r = p * (n - 1)
        lo = int(math.floor(r))
        hi = min(lo + 1, n - 1)
        return float(v[lo] + (r - lo) * (v[hi] - v[lo]))

    return {"mean": float(v.mean()), "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": float(v[-1]),
            "tokens": n}


@torch.no_grad()
def score(model, ref, wins, batch, device):
    nll, ref_nll, kls, same = [], [], [], []
    for i in range(0, wins.shape[0], batch):
        ids = wins[i:i + batch].to(device)
        targets = ids[:, 1:].unsqueeze(-1)
        lq = log_probs(model, ids)
        nll.append(-lq.gather(-1, targets).squeeze(-1).flatten().cpu())
        if ref is not None:
            lp = log_probs(ref, ids)
            ref_nll.append(-lp.gather(-1, targets).squeeze(-1).flatten().cpu())
            kls.append((lp.exp() * (lp - lq)).sum(-1).flatten().cpu())
            same.append((lp.argmax(-1) == lq.argmax(-1)).flatten().cpu())
    nll = torch.cat(nll).double()
    out = {"ppl": math.exp(float(nll.mean())), "nll": float(nll.mean()), "tokens": nll.numel()}
    if ref is not None:
        out["ref_ppl"] = math.exp(float(torch.cat(ref_nll).double().mean()))
        out["kl"] = kl_stats(torch.cat(kls))
        out["top1"] = float(torch.cat(same).double().mean())
    return out, (torch.cat(kls) if ref is not None else None)


def main(argv):
    a = parse_args(argv)
    dtype = DTYPES[a.dtype]
    model = load(a.model, a.device, dtype)
    ref = load(a.reference, a.device, dtype) if a.reference else None
    golden = None
    gpath = os.path.join(a.model, "golden", "ppl.json")
    if a.golden and os.path.isfile(gpath):
        with open(gpath, encoding="utf-8") as f:
            golden = json.load(f)
    result = {"model": a.model, "reference": a.reference, "device": a.device, "dtype": a.dtype,
              "protocol": {"window": a.window, "windows": a.windows, "bos_prepended": True},
              "domains": {}}
    all_kl = []
    for path in a.data:
        domain = os.path.basename(path).split(".")[0]
        wins = windows(a.model, path, a.window, a.windows)
        res, kl = score(model, ref, wins, a.batch, a.device)
        wpath = os.path.join(a.model, "golden", "ppl_windows.safetensors")
        if a.golden and os.path.isfile(wpath):
            from safetensors.torch import load_file
            gw = load_file(wpath)
            if domain in gw:
                res["windows_match_golden"] = bool(torch.equal(gw[domain].long(), wins))
        if golden is not None and domain in golden:
            res["golden_ppl"] = golden[domain]["ppl"]
            res["golden_rel_diff"] = res["ppl"] / golden[domain]["ppl"] - 1
        if kl is not None:
            all_kl.append(kl)
        result["domains"][domain] = res
    if all_kl:
        result["overall_kl"] = kl_stats(torch.cat(all_kl))
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
