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
def round2():
    """Rows of the checks scripts/hf/check_{upcycle,ce,slim}.py wrote (their JSON in docs/results/hf/)."""
    found = []
    def add(label, cls, windows, dom, mk, hf):
        found.append(f"| {label} | {cls} | {windows} | {dom} | {mk:.4f} | {hf:.4f} | {100 * (mk - hf) / hf:+.4f}% |\n")
    for name in ("upcycle-hf.json", "bam-hf.json"):
        path = os.path.join(here, "hf", name)
        if os.path.exists(path):
            j = json.load(open(path))
            for r in j["results"]:
                for dom, v in r["domains"].items():
                    add(os.path.basename(r["model"]), r["class"] + (" (remote code)" if r["trust_remote_code"] else ""),
                        j["protocol"]["windows"], dom, v["moekit_ppl"], v["ppl"])
    path = os.path.join(here, "hf", "ce-hf.json")
    if os.path.exists(path):
        j = json.load(open(path))
        for model, r in j["models"].items():
            for dom, v in r["domains"].items():
                add(os.path.basename(model), "compressed experts (remote code), ces loaded in " + "/".join(map(str, r["ces_loaded"]))
                    + " layers" + ("" if not r["problems"] else ", problems: " + "; ".join(r["problems"])),
                    r["protocol"]["windows"], dom, v["moekit_ppl"], v["ppl"])
    path = os.path.join(here, "hf", "slim-hf.json")
    if os.path.exists(path):
        j = json.load(open(path))
        for r in j["rows"]:
            add(r["model"], "stock, " + r["config"], j["protocol"]["windows"], r["domain"], r["moekit_ppl"], r["ppl"])
    if not found:
        return ""
    return """
## Upcycling, compressed experts and SlimMoE outputs

Checked on an NVIDIA H200 (transformers 5.17.0, PyTorch 2.11.0+cu130, fp32) by `scripts/hf/check_upcycle.py`,
`scripts/hf/check_ce.py` and `scripts/hf/check_slim.py` against `moekit eval --json` of the same folders on CPU, on the
first windows of each test split (the bar for these issues is 0.1%). Stock classes load the sparse-upcycled (every
other layer, Qwen2-MoE), BTX (Mixtral) and SlimMoE outputs; BAM and compressed experts load with
`trust_remote_code=True` through the modeling code moekit writes beside the weights. The compressed-experts check also
loads the folder with its `ces` tensors removed and from the config alone and finds every `ces` exactly 1.
The folders: `upcycle-eo` is `moekit upcycle llama-tiny-seed --experts 4 --top-k 2 --layers every_other` (untrained,
written after the fix that puts the expert width in `moe_intermediate_size`; before it, transformers sized the experts
from the dense `intermediate_size` and refused the checkpoint); `btx` and `bam-shared-kv` are the trained rows of
[upcycling.md](upcycling.md); `mixtral-tiny-ce-trained` the `ces`-trained row of
[compressed-experts.md](compressed-experts.md); the SlimMoE folders come from `scripts/hf/make_slim_outputs.sh`.

| checkpoint | loaded as | windows | domain | moekit eval ppl | transformers ppl | difference |
|---|---|---|---|---|---|---|
""" + "".join(found)


ROUND2 = round2()
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
    out.write(ROUND2)
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
