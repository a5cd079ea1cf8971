#!/usr/bin/env bash
# Quantization benchmarks (figures for docs/benchmarks.md): RTN 4-bit g128 on a synthetic Mixtral-8x7B-shaped bf16
# checkpoint (BENCH_LAYERS layers, default 1 = 2.9 GB) to each format, with peak RSS; then GPTQ on one expert matrix
# in both orientations (14336x4096 and 4096x14336). Needs ~10 GB free under BENCH_DIR (default /tmp/moekit-bench).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MODULE=quantize . "$here/scripts/bench-classpath.sh"
dir=${BENCH_DIR:-/tmp/moekit-bench}
mkdir -p "$dir"
heap=${BENCH_HEAP:-12g}
# BENCH_RUNS: RTN runs per JVM (the first with a cold JIT); GNU time, when installed, adds wall (JVM start included),
# CPU seconds and peak RSS
timed=(); command -v /usr/bin/time >/dev/null && timed=(/usr/bin/time -f "JVM included: %e s wall, %U s user, %S s sys, peak RSS %M KB")
for f in ${BENCH_FORMATS:-fake-quant compressed-tensors gptq}; do
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "${timed[@]}" "$JAVA" $JFLAGS -Xmx$heap -cp "$BENCH_CP" dev.moekit.quantize.bench.RtnBench "$dir" "${BENCH_LAYERS:-1}" "$f" "${BENCH_RUNS:-1}"
  rm -rf "$dir/rtn-$f"
done
"$JAVA" $JFLAGS -Xmx$heap -cp "$BENCH_CP" dev.moekit.quantize.bench.GptqBench 14336 4096 ${BENCH_TOKENS:-2048}
"$JAVA" $JFLAGS -Xmx$heap -cp "$BENCH_CP" dev.moekit.quantize.bench.GptqBench 4096 14336 ${BENCH_TOKENS:-2048}
