#!/usr/bin/env bash
# Re-runs the expert-pruning comparison and rewrites docs/results/pruning.md.
#   scripts/results-pruning.sh [evalWindows=16] [calibrationWindows=16] [models...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=recipes . "$here/scripts/bench-classpath.sh"
export DJL_OFFLINE=true
"$JAVA" $JFLAGS -Xmx8g -Dai.djl.pytorch.graph_optimizer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$BENCH_CP" dev.moekit.recipes.results.PruningResults "$here/../shared" "$here/docs/results/pruning.md" "$@"
