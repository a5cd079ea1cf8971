#!/usr/bin/env bash
# Batch scaling: the same recipe as a local batch job with 1 and with 2 workers on a synthetic checkpoint of
# Mixtral-8x7B shapes (hidden 4096, 8 experts of FFN 14336, vocab 32000; BENCH_LAYERS layers, default 2, about
# 2.9 GB each, bf16 values from SyntheticMixtral). Recipe: RTN int4, group 128, compressed-tensors, one work unit per
# decoder layer plus one for the rest. Prints the load average before each run, the wall time, every unit's time
# and the commit time (from the provenance), and the wall time projected to N nodes from those figures
# (scripts/bench-batch-project.py). Needs about 3.3 GB per layer + 3 GB free under BENCH_DIR (default
# /tmp/moekit-bench-batch); removes it at the end. Figures go to docs/benchmarks.md by hand.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/bench-classpath.sh"
dir=${BENCH_DIR:-/tmp/moekit-bench-batch}
layers=${BENCH_LAYERS:-2}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
"$here/moekit" --version >/dev/null   # build the CLI first
in="$dir/mixtral-$layers"
"$JAVA" $JFLAGS -cp "$BENCH_CP" dev.moekit.toolkit.bench.SyntheticMixtral "$in" "$layers" 2000000000
df -h "$dir" | tail -1
for workers in ${BENCH_WORKERS:-1 2}; do
  out="$dir/out-$workers"
  cat > "$dir/recipe-$workers.yaml" <<YAML
model: $in
output: $out
stages:
  - quantize: {method: rtn, bits: 4, group_size: 128, format: compressed-tensors, layers_per_unit: 1}
YAML
  echo "== $workers worker(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  t0=$(date +%s.%N)
  "$here/moekit" batch submit "$dir/recipe-$workers.yaml" --executor local --workers "$workers" --wait >/dev/null
  t1=$(date +%s.%N)
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 "$here/scripts/bench-batch-project.py" "$out/moekit_provenance.json" "$(echo "$t1 - $t0" | bc)" "$workers"
  rm -rf "$out"
done
