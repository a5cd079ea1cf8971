#!/usr/bin/env python3
"""Rebuilds docs/results/hf-check.md from the JSON pairs in docs/results/hf/ (<name>-moekit.json from `moekit eval
--json`, <name>-hf.json from tools/hf_eval.py on a machine with transformers)."""
import glob
import json
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results")
LABELS = {
    "mixtral-stun25": "mixtral-tiny, STUN 25% experts removed",
    "qwen2moe-stun25": "qwen2moe-tiny, STUN 25% experts removed",
    "mixtral-stun-owl40": "mixtral-tiny, STUN 25% + OWL to 40% total (the README's main job)",
    "mixtral-fq-w4g128": "mixtral-tiny, RTN int4 g128 fake-quant",
}
rows = []
for hf_file in sorted(glob.glob(os.path.join(here, "hf", "*-hf.json"))):
    name = os.path.basename(hf_file)[: -len("-hf.json")]
    mk_file = os.path.join(here, "hf", name + "-moekit.json")
    if not os.path.exists(mk_file):
        continue
    hf = json.load(open(hf_file))
    mk = json.load(open(mk_file))
    mkd = {d["domain"]: d["perplexity"] for d in mk["domains"]}
    for dom, v in hf["domains"].items():
        rows.append((LABELS.get(name, name), hf["protocol"]["windows"], dom, mkd[dom], v["ppl"]))
with open(os.path.join(here, "hf-check.md"), "w") as out:
    out.write("""# moekit outputs load in Hugging Face transformers and score the same

Every checkpoint below was written by moekit, loaded with stock `AutoModelForCausalLM.from_pretrained` (transformers
5.17.0, PyTorch 2.11.0+cu130, NVIDIA H100, fp32, no custom code) by `tools/hf_eval.py`, and scored under the
evaluation protocol (windows of 256 tokens of each `*.test.txt` split, bos prepended); the same windows were scored by
`moekit eval` (DJL, CPU, fp32). The issue's bar is 0.5%.

| checkpoint | windows | domain | moekit eval ppl | transformers ppl | difference |
|---|---|---|---|---|---|
""")
    for label, w, dom, a, b in rows:
        out.write(f"| {label} | {w} | {dom} | {a:.4f} | {b:.4f} | {100 * (a - b) / b:+.4f}% |\n")
    out.write("""
Packed quantized outputs (compressed-tensors, GPTQ) could not be loaded there: the GPU machine has neither the
`compressed-tensors` package nor `optimum`/`gptqmodel`, and no network to install them. moekit reads them back itself
(tests check the read-back values equal the quantizer's exactly) and evaluates them dequantized.

Reproduce (the device machine gets the checkpoint and the test texts copied next to the script):
```bash
./moekit prune ../shared/models/mixtral-tiny out/device/mixtral-stun25 --method stun --experts 0.25
./moekit eval out/device/mixtral-stun25 --windows 32 --json docs/results/hf/mixtral-stun25-moekit.json
python3 tools/hf_eval.py out/device/mixtral-stun25 --data ../shared/data/*.test.txt --windows 32 > docs/results/hf/mixtral-stun25-hf.json
python3 scripts/hf-check-table.py
```
""")
