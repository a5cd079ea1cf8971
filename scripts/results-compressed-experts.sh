#!/usr/bin/env bash
# Re-runs the compressed-experts comparison and rewrites docs/results/compressed-experts.md; the checkpoints stay in
# out/ce/ (each with its moekit eval JSON beside it) for scripts/hf/check_ce.py on a machine with transformers.
#   scripts/results-compressed-experts.sh [trainTokens=16384] [evalWindows=16] [models...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=distill . "$here/scripts/bench-classpath.sh"
BENCH_CP="$BENCH_CP:$here/distill/target/classes:$here/distill/target/test-classes:$here/pipeline/target/classes"
export DJL_OFFLINE=true
"$JAVA" $JFLAGS -Xmx8g -Dai.djl.pytorch.graph_optimizer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$BENCH_CP" dev.moekit.distill.ce.CompressedExpertsResults "${MOEKIT_SHARED:-$here/../shared}" "$here/docs/results/compressed-experts.md" \
  "$here/out/ce" "$@"
