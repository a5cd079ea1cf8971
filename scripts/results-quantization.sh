#!/usr/bin/env bash
# Re-runs the quantization comparison and rewrites docs/results/quantization.md.
#   scripts/results-quantization.sh [evalWindows=8] [calibrationWindows=8] [models...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=recipes . "$here/scripts/bench-classpath.sh"
export DJL_OFFLINE=true
"$JAVA" $JFLAGS -Xmx8g -Dai.djl.pytorch.graph_optimizer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$BENCH_CP" dev.moekit.recipes.results.QuantResults "$here/../shared" "$here/docs/results/quantization.md" "$@"
