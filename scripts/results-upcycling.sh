#!/usr/bin/env bash
# Re-runs the upcycling comparison from the seed and its four specialists and rewrites docs/results/upcycling.md
# (plus docs/results/upcycling-routing.png).
#   scripts/results-upcycling.sh [trainTokens=8192] [evalWindows=4]
# Every trained row gets the same tokens of the *.valid.txt splits (windows of 256, batch 4, AdamW lr (UPCYCLE_LR, default 2e-4) with
# steps/4 warm-up steps and cosine decay, everything trained; MoE rows add the load-balancing loss 0.01, BAM the z-loss
# 0.001); every row is scored by `moekit eval` on the first evalWindows windows of each *.test.txt split, right after
# it is built (a run stopped early leaves the finished rows; the table names the missing ones). One intra-op thread
# (OMP_NUM_THREADS=1 unless set): the 2-core machine is shared.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${MOEKIT_SHARED:-$here/../shared}
export MOEKIT_SHARED=$shared
tokens=${1:-8192}
windows=${2:-4}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
out=${UPCYCLE_OUT:-$here/out/upcycling}
mkdir -p "$out"
m=$shared/models
seed=$m/llama-tiny-seed
specs="$m/llama-tiny-python,$m/llama-tiny-kernel,$m/llama-tiny-dict,$m/llama-tiny-misc"
mk() { "$here/moekit" "$@"; }
steps=$(( (tokens + 1023) / 1024 ))
warm=$(( steps / 4 > 0 ? steps / 4 : 1 ))
lr=${UPCYCLE_LR:-2e-4}
train=(--train-tokens "$tokens" --batch-size 4 --window 256 --lr "$lr" --warmup "$warm" --train all --calibration "$shared/data/*.valid.txt")
evaluate() {   # name, folder
  [ -f "$out/$1-eval.json" ] || "$here/moekit" eval "$2" --data "$shared"/data/*.test.txt --windows "$windows" --json "$out/$1-eval.json" >/dev/null
  [ -f "$out/$1-inspect.json" ] || "$here/moekit" inspect "$2" --json > "$out/$1-inspect.json"
  python3 "$here/scripts/results-upcycling.py" "$out" "$tokens" "$windows" "$here/docs/results"
}
build() {   # name, command, input, options... (the output goes right after the input: --calibration takes many values)
  local name=$1 cmd=$2 input=$3; shift 3
  if [ ! -f "$out/$name/config.json" ]; then
    echo "== $name" >&2
    rm -rf "$out/$name" "$out/$name.work"
    local start=$SECONDS
    "$here/moekit" "$cmd" "$input" "$out/$name" "$@" >&2
    echo "$name: $((SECONDS - start)) s" >&2
  fi
  evaluate "$name" "$out/$name"
}
for r in seed python kernel dict misc; do
  [ "$r" = seed ] && evaluate seed "$seed" || evaluate "$r" "$m/llama-tiny-$r"
done
build dense distill "$seed" --steps "$steps" --batch-size 4 --window 256 --lr "$lr" --warmup "$warm" --train all \
  --calibration "$shared/data/*.valid.txt"
build btx-assembled btx "$seed" --experts "$specs"
build btx btx "$seed" --experts "$specs" "${train[@]}"
build upcycle upcycle "$seed" --experts 8 --top-k 2 --layers all "${train[@]}"
build bam-expert-kv bam "$seed" --experts "$specs" --attention expert_kv --top-k 1 "${train[@]}"
build bam-shared-kv bam "$seed" --experts "$specs" --attention shared_kv --top-k 1 "${train[@]}"
for name in btx bam-expert-kv; do    # routing per domain: one evaluation per test split
  for d in python kernel dict misc; do
    [ -f "$out/$name-routing-$d.json" ] || mk eval "$out/$name" --data "$shared/data/$d.test.txt" --windows "$windows" \
      --json "$out/$name-routing-$d.json" >/dev/null
  done
done
python3 "$here/scripts/results-upcycling.py" "$out" "$tokens" "$windows" "$here/docs/results"
