#!/usr/bin/env bash
# Makes the SlimMoE outputs scripts/hf/check_slim.py checks in stock transformers, with moekit's own evaluation of
# each beside it (<folder>.moekit.json) and a copy of the test splits, all under out/slim-hf/ (about 55 MB).
#   scripts/hf/make_slim_outputs.sh [tokens=8192]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${MOEKIT_SHARED:-$here/../shared}
tokens=${1:-8192}
moekit=${MOEKIT:-$here/moekit}   # the launcher (MOEKIT= another one, e.g. a copy of a built CLI)
out=$here/out/slim-hf
mkdir -p "$out/data"
cp "$shared"/data/*.test.txt "$out/data/"
"$moekit" slim "$shared/models/mixtral-tiny" "$out/mixtral-slim50-kv3" --expert-ffn 0.5 --kv-groups 3 --stages 2 \
  --distill-tokens "$tokens" --batch-size 2 --windows-per-file 32 --score-windows 16 --replace
"$moekit" slim "$shared/models/qwen2moe-tiny" "$out/qwen2moe-slim25-kv3" --expert-ffn 0.25 --kv-groups 3 --stages 2 \
  --distill-tokens "$tokens" --batch-size 2 --windows-per-file 32 --score-windows 16 --replace
for m in mixtral-slim50-kv3 qwen2moe-slim25-kv3; do
  "$moekit" verify "$out/$m"
  "$moekit" eval "$out/$m" --windows 8 --json "$out/$m.moekit.json"
done
du -sh "$out"
