#!/usr/bin/env bash
# Makes the SlimMoE outputs scripts/hf/check_slim.py checks in stock transformers, with moekit's own evaluation of
# each beside it (<folder>.moekit.json) and a copy of the test splits, all under out/slim-hf/ (about 55 MB).
#   scripts/hf/make_slim_outputs.sh [tokens=8192]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${MOEKIT_SHARED:-$here/../shared}
tokens=${1:-8192}
out=$here/out/slim-hf
mkdir -p "$out/data"
cp "$shared"/data/*.test.txt "$out/data/"
"$here/moekit" slim "$shared/models/mixtral-tiny" "$out/mixtral-slim50-kv3" --expert-ffn 0.5 --kv-groups 3 --stages 2 \
  --distill-tokens "$tokens" --batch-size 2 --replace
"$here/moekit" slim "$shared/models/qwen2moe-tiny" "$out/qwen2moe-slim25-kv3" --expert-ffn 0.25 --kv-groups 3 --stages 2 \
  --distill-tokens "$tokens" --batch-size 2 --replace
for m in mixtral-slim50-kv3 qwen2moe-slim25-kv3; do
  "$here/moekit" verify "$out/$m"
  "$here/moekit" eval "$out/$m" --windows 8 --json "$out/$m.moekit.json"
done
du -sh "$out"
