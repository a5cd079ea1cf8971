#!/usr/bin/env python3
"""Runs the modeling code inside a moekit BAM checkpoint on machines without transformers (only torch and numpy):
a minimal stand-in for the few transformers names it imports, the weights read from the safetensors files directly,
the token windows taken from a reference model's golden/ppl_windows.safetensors. Prints the perplexity per domain of
the first --windows windows, to compare with `moekit eval <bam> --windows N` (same windows: the golden windows are
the evaluation protocol's). This checks the PyTorch maths of modeling_moekit_bam.py against moekit's runtime; loading
through transformers itself is scripts/hf/check_upcycle.py's job.
    bam_code_selfcheck.py BAM_DIR GOLDEN_WINDOWS.safetensors [--windows 2] [--moekit eval.json]
"""
import argparse
import dataclasses
import importlib.util
import json
import math
import os
import sys
import types

import numpy as np
import torch
from torch import nn


def stub_transformers():
    t = types.ModuleType("transformers")

    class PreTrainedConfig:
        def __init__(self, pad_token_id=None, bos_token_id=None, eos_token_id=None, tie_word_embeddings=False, **kwargs):
            self.pad_token_id, self.bos_token_id, self.eos_token_id = pad_token_id, bos_token_id, eos_token_id
            self.tie_word_embeddings = tie_word_embeddings
            for k, v in kwargs.items():
                setattr(self, k, v)

    class PreTrainedModel(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config

        def post_init(self):
            self.apply(self._init_weights)

    class GenerationMixin:
        pass

    @dataclasses.dataclass
    class CausalLMOutputWithPast:
        loss: object = None
        logits: object = None
        past_key_values: object = None

    t.PreTrainedConfig = PreTrainedConfig
    t.PreTrainedModel = PreTrainedModel
    t.GenerationMixin = GenerationMixin
    outputs = types.ModuleType("transformers.modeling_outputs")
    outputs.CausalLMOutputWithPast = CausalLMOutputWithPast
    t.modeling_outputs = outputs
    sys.modules["transformers"] = t
    sys.modules["transformers.modeling_outputs"] = outputs


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype=np.float32)
        elif info["dtype"] == "I32":
            arr = np.frombuffer(raw, dtype=np.int32)
        else:
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']} not handled here")
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


def load_package(folder):
    pkg = types.ModuleType("bam_pkg")
    pkg.__path__ = [folder]
    sys.modules["bam_pkg"] = pkg
    for mod in ("configuration_moekit_bam", "modeling_moekit_bam"):
        spec = importlib.util.spec_from_file_location("bam_pkg." + mod, os.path.join(folder, mod + ".py"))
        m = importlib.util.module_from_spec(spec)
        sys.modules["bam_pkg." + mod] = m
        spec.loader.exec_module(m)
    return sys.modules["bam_pkg.configuration_moekit_bam"], sys.modules["bam_pkg.modeling_moekit_bam"]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("golden_windows")
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--moekit", help="moekit eval --json of the same folder and windows")
    a = p.parse_args(argv)
    stub_transformers()
    conf_mod, model_mod = load_package(os.path.abspath(a.model))
    with open(os.path.join(a.model, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    config = conf_mod.MoekitBamConfig(**{k: v for k, v in cfg.items() if k not in ("auto_map",)})
    model = model_mod.MoekitBamForCausalLM(config)
    weights = {}
    for f in sorted(os.listdir(a.model)):
        if f.endswith(".safetensors"):
            weights.update(read_safetensors(os.path.join(a.model, f)))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.eval()
    wins = read_safetensors(a.golden_windows)
    moekit = {}
    if a.moekit:
        with open(a.moekit, encoding="utf-8") as f:
            moekit = {d["domain"]: d["perplexity"] for d in json.load(f)["domains"]}
    worst = 0.0
    with torch.no_grad():
        for domain in sorted(wins):
            ids = wins[domain][: a.windows].long()
            logits = model(input_ids=ids).logits.float()
            lp = torch.log_softmax(logits[:, :-1, :], -1)
            nll = -lp.gather(-1, ids[:, 1:, None]).squeeze(-1).double().mean()
            ppl = math.exp(float(nll))
            ref = moekit.get(domain)
            diff = "" if ref is None else f"{100 * (ppl / ref - 1):+.4f}%"
            if ref is not None:
                worst = max(worst, abs(ppl / ref - 1))
            print(f"{domain}: modeling_moekit_bam.py ppl {ppl:.4f}" + ("" if ref is None else f", moekit eval {ref:.4f} ({diff})"))
    if moekit:
        print(f"largest difference {100 * worst:.4f}%")
        return 1 if worst > 0.001 else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
