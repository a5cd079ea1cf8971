#!/usr/bin/env bash
# Re-runs the SlimMoE comparison and rewrites docs/results/slimmoe.md.
#   scripts/results-slimmoe.sh [evalWindows=4] [calibrationWindows=16] [models...]
# Training budget per row: SLIM_TOKENS (default 8192); learning rate: SLIM_LR (default 1e-4).
# Output file: SLIM_OUT (default docs/results/slimmoe.md). PyTorch threads: SLIM_THREADS (default 1: on a machine shared
# with other jobs two OpenMP threads stall at every barrier).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=recipes . "$here/scripts/bench-classpath.sh"
export DJL_OFFLINE=true OMP_NUM_THREADS=${SLIM_THREADS:-1}
BENCH_CP="$BENCH_CP:$here/distill/target/classes:$here/pipeline/target/classes"
"$JAVA" $JFLAGS -Xmx8g -Dai.djl.pytorch.graph_optimizer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -Dai.djl.pytorch.num_threads="${SLIM_THREADS:-1}" -Dai.djl.pytorch.num_interop_threads=1 -Dslim.tokens="${SLIM_TOKENS:-8192}" -Dslim.lr="${SLIM_LR:-1e-4}" \
  -cp "$BENCH_CP" dev.moekit.recipes.results.SlimResults "${MOEKIT_SHARED:-$here/../shared}" "${SLIM_OUT:-$here/docs/results/slimmoe.md}" "$@"
