# Sourced by benchmark scripts: builds test classes and sets BENCH_CP to toolkit's test classpath and JAVA/JFLAGS.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/find-jdk.sh"
moekit_find_jdk
JAVA="$MOEKIT_JAVA_HOME/bin/java"
JFLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
mod=${BENCH_MODULE:-toolkit}
"$here/build" -q -pl "$mod" -am test-compile dependency:build-classpath -Dmdep.outputFile="$here/$mod/target/bench.cp" -Dmdep.includeScope=test >/dev/null
BENCH_CP="$here/$mod/target/test-classes:$here/$mod/target/classes:$(cat "$here/$mod/target/bench.cp")"
for m in toolkit eval prune quantize; do BENCH_CP="$BENCH_CP:$here/$m/target/classes:$here/$m/target/test-classes"; done
