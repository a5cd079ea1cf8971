#!/usr/bin/env python3
"""Checks moekit's compressed-experts outputs in Hugging Face transformers (5.x) with their remote code.

For every checkpoint folder given:
  1. loads it with AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True) (the modeling_moekit_ce.py that
     moekit wrote beside the weights), checks that every MoE block got its `ces` from the checkpoint, and scores
     perplexity on the test windows under moekit's protocol (tools/hf_eval.py: bos + whole text, windows from the start,
     every position but each window's first), optionally KL to --reference;
  2. compares with `moekit eval --json` of the same folder (<dir>.moekit.json beside it, as scripts/results-compressed-
     experts.sh writes it, or --moekit FILE): the issue's bar is 0.1% per domain;
  3. the init check (PyTorch only): the same folder with its ces tensors removed loads with every ces exactly 1, and so
     does a model built from the config alone (from_config): never uninitialised memory.
Exit status 1 if any check fails. Runs offline. Example (on the GPU machine, from the repository root):
    python3 scripts/hf/check_ce.py out/ce/*-ce-* --data ../shared/data/*.test.txt > docs/results/ce-hf-check.json
"""
import argparse
import glob
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

import torch  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

import hf_eval  # noqa: E402  (windows, score, kl_stats: the protocol of moekit eval)

BAR = 0.001  # 0.1 %


def load(folder, device, dtype):
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=True, local_files_only=True)
    return m.to(device).eval()


def ces_params(model):
    return [(n, p) for n, p in model.named_parameters() if n.endswith(".ces")]


def without_ces(folder, dst):
    """A copy of folder whose safetensors hold no *.ces tensor (index rewritten)."""
    from safetensors.torch import load_file, save_file
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(folder):
        src = os.path.join(folder, f)
        if os.path.isfile(src) and not f.endswith(".safetensors") and f != "model.safetensors.index.json":
            shutil.copy(src, os.path.join(dst, f))
    weight_map = {}
    for shard in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        t = {k: v for k, v in load_file(shard).items() if not k.endswith(".ces")}
        name = os.path.basename(shard)
        save_file(t, os.path.join(dst, name), metadata={"format": "pt"})
        weight_map.update({k: name for k in t})
    if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        with open(os.path.join(dst, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return dst


def init_check(folder, device):
    """ces is exactly ones when the checkpoint has none, and when the model is built from its config."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        bare = without_ces(folder, os.path.join(tmp, "bare"))
        m = AutoModelForCausalLM.from_pretrained(bare, dtype=torch.float32, trust_remote_code=True, local_files_only=True)
        ps = ces_params(m)
        if not ps:
            problems.append("no ces parameter in the loaded model")
        for n, p in ps:
            if not torch.equal(p.detach().cpu(), torch.ones_like(p).cpu()):
                problems.append(f"{n} is not ones after from_pretrained without the tensor")
        if getattr(m, "ces_loaded", (None,))[0] != 0:
            problems.append(f"ces_loaded {getattr(m, 'ces_loaded', None)} where the checkpoint has no ces")
        del m
    cfg = AutoConfig.from_pretrained(folder, trust_remote_code=True, local_files_only=True)
    m = AutoModelForCausalLM.from_config(cfg, trust_remote_code=True)
    for n, p in ces_params(m):
        if not torch.equal(p.detach(), torch.ones_like(p)):
            problems.append(f"{n} is not ones after from_config")
    return problems


def moekit_json(folder, explicit):
    """(perplexity by domain, window, windows, reference) of moekit eval's JSON for folder, or Nones."""
    path = explicit or folder.rstrip("/") + ".moekit.json"
    if not os.path.exists(path):
        return None, None, None, None
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    return {d["domain"]: d["perplexity"] for d in j["domains"]}, j.get("window"), j.get("windows"), j.get("reference")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="compressed-experts checkpoint folders written by moekit")
    p.add_argument("--data", nargs="+", required=True, help="test text files, one domain each")
    p.add_argument("--reference", help="original model for KL divergence (default: the reference in moekit's JSON)")
    p.add_argument("--moekit", action="append", default=[], help="moekit eval --json files, in the order of the models")
    p.add_argument("--window", type=int, help="tokens per window (default: moekit's JSON, else 256)")
    p.add_argument("--windows", type=int, help="windows per file (default: moekit's JSON, else 32)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    refs = {}
    failed = False
    report = {"transformers": __import__("transformers").__version__, "torch": torch.__version__, "models": {}}
    for i, folder in enumerate(a.models):
        folder = folder.rstrip("/")
        out = {"domains": {}, "problems": []}
        model = load(folder, a.device, torch.float32)
        loaded = getattr(model, "ces_loaded", None)
        out["ces_loaded"] = list(loaded) if loaded else None
        if not loaded or loaded[0] != loaded[1] or loaded[1] == 0:
            out["problems"].append(f"ces loaded from the checkpoint for {loaded} MoE blocks (want all)")
        mk, mk_window, mk_windows, mk_ref = moekit_json(folder, a.moekit[i] if i < len(a.moekit) else None)
        ref_path = a.reference or (mk_ref if mk_ref and os.path.isdir(mk_ref) else None)
        if ref_path and ref_path not in refs:
            refs.clear()
            refs[ref_path] = hf_eval.load(ref_path, a.device, torch.float32)
        ref = refs.get(ref_path)
        window = a.window or mk_window or 256
        count = a.windows or mk_windows or 32
        out["protocol"] = {"window": window, "windows": count}
        for path in a.data:
            domain = os.path.basename(path).split(".")[0]
            wins = hf_eval.windows(folder, path, window, count)
            res, _ = hf_eval.score(model, ref, wins, a.batch, a.device)
            row = {"ppl": res["ppl"], "tokens": res["tokens"]}
            if "kl" in res:
                row["kl_mean"] = res["kl"]["mean"]
            if mk and domain in mk:
                row["moekit_ppl"] = mk[domain]
                row["rel_diff"] = mk[domain] / res["ppl"] - 1
                if abs(row["rel_diff"]) > BAR:
                    out["problems"].append(f"{domain}: moekit {mk[domain]:.4f} vs transformers {res['ppl']:.4f}")
            out["domains"][domain] = row
        del model
        out["problems"] += init_check(folder, a.device)
        failed |= bool(out["problems"])
        report["models"][folder] = out
        print(f"{folder}: ces loaded {out['ces_loaded']}", file=sys.stderr)
        for d, r in out["domains"].items():
            extra = f"  moekit {r['moekit_ppl']:.4f} ({100 * r['rel_diff']:+.4f}%)" if "moekit_ppl" in r else ""
            print(f"  {d:8s} ppl {r['ppl']:.4f}{extra}", file=sys.stderr)
        for pr in out["problems"]:
            print(f"  PROBLEM: {pr}", file=sys.stderr)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
