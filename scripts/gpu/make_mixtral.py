#!/usr/bin/env python3
"""Writes the random-weight Mixtral of real shapes used by the GPU benchmarks (docs/benchmarks.md, GPU section):
hidden 2048, intermediate 5632, 6 layers, 16 heads (8 KV), 8 experts top-2, vocab 8192, 1.77B parameters, bf16
safetensors, seeded. The tokenizer files are copied from a reference checkpoint with the same vocabulary (8192)."""
import argparse
import os
import shutil

import torch
from transformers import MixtralConfig, MixtralForCausalLM

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("out")
p.add_argument("--tokenizer", required=True, help="folder holding tokenizer.json and tokenizer_config.json")
p.add_argument("--layers", type=int, default=6)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.manual_seed(a.seed)
cfg = MixtralConfig(vocab_size=8192, hidden_size=2048, intermediate_size=5632, num_hidden_layers=a.layers,
                    num_attention_heads=16, num_key_value_heads=8, num_local_experts=8, num_experts_per_tok=2,
                    bos_token_id=1, eos_token_id=2, max_position_embeddings=4096, tie_word_embeddings=False)
with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
    model = MixtralForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(a.out, max_shard_size="2GB")
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(os.path.join(a.tokenizer, f), a.out)
print(f"wrote {a.out}: {sum(t.numel() for t in model.parameters()) / 1e9:.2f}B parameters")
