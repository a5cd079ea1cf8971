#!/usr/bin/env bash
# Benchmarks `moekit convert` (no dtype change) against `cp` on synthetic Mixtral-shaped bf16 checkpoints of about
# 2.9 GB (1 layer) and 8.7 GB (3 layers), 2 GB shards; records wall time and peak RSS (GNU time). Then one-thread dtype
# conversion speed. Needs ~40 GB free under BENCH_DIR (default /tmp/moekit-bench). Figures go to docs/benchmarks.md by hand.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/bench-classpath.sh"
dir=${BENCH_DIR:-/tmp/moekit-bench}
mkdir -p "$dir"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }
"$here/moekit" --version >/dev/null   # build the CLI first
for layers in ${BENCH_LAYERS:-1 3}; do
  in="$dir/mixtral-$layers"
  [ -d "$in" ] || "$JAVA" $JFLAGS -cp "$BENCH_CP" dev.moekit.toolkit.bench.SyntheticMixtral "$in" "$layers" 2000000000
  size=$(du -sb "$in" | cut -f1)
  for rep in 1 2 3; do
    rm -rf "$dir/cp-out" "$dir/conv-out"; sync
    t0=$(date +%s.%N); cp -r "$in" "$dir/cp-out"; sync; t1=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$dir/rss" "$here/moekit" convert "$in" "$dir/conv-out" --max-shard-size 2GB >/dev/null; sync; t2=$(date +%s.%N)
    cpt=$(echo "$t1 - $t0" | bc); cvt=$(echo "$t2 - $t1" | bc)
    printf "input %.2f GB  cp %.2f s (%.2f GB/s)  convert %.2f s (%.2f GB/s)  speed ratio convert/cp %.2f  peak RSS %d MB\n" \
      "$(echo "$size/1000000000" | bc -l)" "$cpt" "$(echo "$size/1000000000/$cpt" | bc -l)" "$cvt" "$(echo "$size/1000000000/$cvt" | bc -l)" \
      "$(echo "$cpt/$cvt" | bc -l)" "$(( $(cat "$dir/rss") / 1024 ))"
  done
  rm -rf "$dir/cp-out" "$dir/conv-out"
done
"$JAVA" $JFLAGS -cp "$BENCH_CP" dev.moekit.toolkit.bench.ConvertSpeed 64 10
