#!/usr/bin/env bash
# Re-runs the upcycling comparison from the seed and its four specialists and rewrites docs/results/upcycling.md
# (plus docs/results/upcycling-routing.png).
#   scripts/results-upcycling.sh [trainTokens=24576] [evalWindows=8]
# Every trained row gets the same tokens of the *.valid.txt splits (windows of 256, batch 4, AdamW lr 5e-4 with 4
# warm-up steps and cosine decay, everything trained; MoE rows add the load-balancing loss 0.01, BAM the z-loss 0.001);
# every row is scored by `moekit eval` on the first evalWindows windows of each *.test.txt split.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${MOEKIT_SHARED:-$here/../shared}
export MOEKIT_SHARED=$shared
tokens=${1:-24576}
windows=${2:-8}
out=${UPCYCLE_OUT:-$here/out/upcycling}
mkdir -p "$out"
m=$shared/models
seed=$m/llama-tiny-seed
specs="$m/llama-tiny-python,$m/llama-tiny-kernel,$m/llama-tiny-dict,$m/llama-tiny-misc"
mk() { "$here/moekit" "$@"; }
train=(--train-tokens "$tokens" --batch-size 4 --window 256 --lr 5e-4 --warmup 4 --train all --calibration "$shared/data/*.valid.txt")
steps=$(( (tokens + 1023) / 1024 ))
build() {   # name, command, input, options... (the output goes right after the input: --calibration takes many values)
  local name=$1 cmd=$2 input=$3; shift 3
  if [ ! -f "$out/$name/config.json" ]; then
    echo "== $name" >&2
    rm -rf "$out/$name" "$out/$name.work"
    local start=$SECONDS
    "$here/moekit" "$cmd" "$input" "$out/$name" "$@" >&2
    echo "$name: $((SECONDS - start)) s" >&2
  fi
}
build upcycle upcycle "$seed" --experts 8 --top-k 2 --layers all "${train[@]}"
build btx-assembled btx "$seed" --experts "$specs"
build btx btx "$seed" --experts "$specs" "${train[@]}"
build bam-expert-kv bam "$seed" --experts "$specs" --attention expert_kv --top-k 1 "${train[@]}"
build bam-shared-kv bam "$seed" --experts "$specs" --attention shared_kv --top-k 1 "${train[@]}"
build dense distill "$seed" --steps "$steps" --batch-size 4 --window 256 --lr 5e-4 --warmup 4 --train all \
  --calibration "$shared/data/*.valid.txt"
rows="seed=$seed python=$m/llama-tiny-python kernel=$m/llama-tiny-kernel dict=$m/llama-tiny-dict misc=$m/llama-tiny-misc"
rows="$rows upcycle=$out/upcycle btx-assembled=$out/btx-assembled btx=$out/btx bam-expert-kv=$out/bam-expert-kv"
rows="$rows bam-shared-kv=$out/bam-shared-kv dense=$out/dense"
for r in $rows; do
  name=${r%%=*}; dir=${r#*=}
  [ -f "$out/$name-eval.json" ] || mk eval "$dir" --data "$shared"/data/*.test.txt --windows "$windows" --json "$out/$name-eval.json" >/dev/null
  [ -f "$out/$name-inspect.json" ] || mk inspect "$dir" --json > "$out/$name-inspect.json"
done
for name in btx upcycle bam-expert-kv; do    # routing per domain: one evaluation per test split
  for d in python kernel dict misc; do
    [ -f "$out/$name-routing-$d.json" ] || mk eval "$out/$name" --data "$shared/data/$d.test.txt" --windows "$windows" \
      --json "$out/$name-routing-$d.json" >/dev/null
  done
done
python3 "$here/scripts/results-upcycling.py" "$out" "$tokens" "$windows" "$here/docs/results"
