# Sourced by ./build and ./moekit: sets MOEKIT_JAVA_HOME to a JDK of version >= 25, or exits with what to do.
# Looks at, in order: $MOEKIT_JAVA_HOME, $JAVA_HOME, the java on PATH, then the usual install folders
# (/usr/lib/jvm, /usr/java, /opt, ~/.sdkman, ~/.jdks, /Library/Java). Nothing machine-specific is assumed.
moekit_java_major() {  # prints the major version of the JDK at $1, or nothing
  local home=$1 v
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  fi
  echo "$v"
}

moekit_find_jdk() {
  local c v best="" bestv=0 candidates=()
  [ -n "${MOEKIT_JAVA_HOME:-}" ] && candidates+=("$MOEKIT_JAVA_HOME")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    c=$(readlink -f "$(command -v java)"); candidates+=("${c%/bin/java}")
  fi
  for c in /usr/lib/jvm/* /usr/java/* /opt/*jdk* /opt/java/* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* \
           /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    v=$(moekit_java_major "$c")
    # the first candidate that qualifies wins if it was named explicitly; otherwise take the newest found
    if [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null; then
      if [ "$c" = "${MOEKIT_JAVA_HOME:-}" ] || [ "$c" = "${JAVA_HOME:-}" ]; then best=$c; break; fi
      if [ "$v" -gt "$bestv" ]; then best=$c; bestv=$v; fi
    fi
  done
  if [ -z "$best" ]; then
    echo "moekit: no JDK 25 or newer found (looked at \$MOEKIT_JAVA_HOME, \$JAVA_HOME, PATH, /usr/lib/jvm, /opt, ~/.sdkman)." >&2
    echo "moekit: install one (for example 'apt-get install temurin-25-jdk' from Adoptium, or sdkman 'sdk install java 25-tem')" >&2
    echo "moekit: and/or set MOEKIT_JAVA_HOME=/path/to/jdk-25." >&2
    exit 3
  fi
  MOEKIT_JAVA_HOME=$best
  export MOEKIT_JAVA_HOME
}
