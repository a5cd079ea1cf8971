#!/usr/bin/env bash
# Re-runs the quantization comparison and rewrites docs/results/quantization.md (and its frontier plots).
#   scripts/results-quantization.sh [evalWindows=4] [calibrationWindows=4] [models...]
# Environment: JOBS=N runs N models at once (one JVM each, default 1); ROWS=<regex> runs only the matching settings;
# PRIOR=<file.md> keeps the rows an earlier (stopped) run wrote there and runs only the others.
# Each model writes its own part; the parts are joined in the order the models were given.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=recipes . "$here/scripts/bench-classpath.sh"
export DJL_OFFLINE=true
evalw=${1:-4}
calw=${2:-4}
shift $(( $# < 2 ? $# : 2 ))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(mixtral-tiny qwen2moe-tiny mixtral-upcycled-tiny)
parts=${PARTS:-$(mktemp -d)} # kept: a model that fails leaves its log and the rows it measured there
mkdir -p "$parts"
echo "parts and logs in $parts" >&2
run_model() {
  "$JAVA" $JFLAGS -Xmx6g -Dmoekit.rows="${ROWS:-.*}" -Dmoekit.prior="${PRIOR:-}" -Dai.djl.pytorch.graph_optimizer=false \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.moekit.recipes.results.QuantResults \
    "$here/../shared" "$parts/$1.md" "$evalw" "$calw" "$1" > "$parts/$1.log" 2>&1
}
running=0
for m in "${models[@]}"; do
  run_model "$m" &
  running=$((running + 1))
  if [ "$running" -ge "${JOBS:-1}" ]; then wait -n || echo "a model run failed (see its log)" >&2; running=$((running - 1)); fi
done
wait || echo "a model run failed (see its log)" >&2
cat "$parts"/*.log >&2
out="$here/docs/results/quantization.md"
first=1
for m in "${models[@]}"; do
  [ -f "$parts/$m.md" ] || { echo "no results for $m" >&2; continue; }
  if [ $first = 1 ]; then cat "$parts/$m.md"; first=0; else sed -n '/^## /,$p' "$parts/$m.md"; fi
  cp "$parts"/quantization-frontier-"$m".png "$here/docs/results/" 2>/dev/null || true
done > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out" >&2
