package dev.moekit.maven.core;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * How the moekit JVM is forked.
 *
 * @param java        the {@code java} executable (JDK 25 or newer)
 * @param classpath   the moekit CLI and every module it brings (the plugin's dependency artifacts)
 * @param jvmArgs     extra JVM options, after moekit's own
 * @param maxHeap     {@code -Xmx} value, or null for the JVM's default
 * @param shared      the reference assets folder passed as {@code -Dmoekit.shared}, or null
 * @param environment extra environment variables for the fork
 * @param workDir     the fork's working directory (the project's base directory)
 * @param argFile     where the fork's command line is written ({@code java @argFile ...})
 */
public record ForkOptions(Path java, List<Path> classpath, List<String> jvmArgs, String maxHeap, String shared,
                          Map<String, String> environment, Path workDir, Path argFile) {
    public ForkOptions {
        classpath = List.copyOf(classpath);
        jvmArgs = jvmArgs == null ? List.of() : List.copyOf(jvmArgs);
        environment = environment == null ? Map.of() : Map.copyOf(environment);
        if (maxHeap != null && !maxHeap.isBlank() && !maxHeap.matches("[0-9]+[kKmMgGtT]?")) {
            throw new IllegalArgumentException("maxHeap must be a size such as 4g or 512m, got '" + maxHeap + "'");
        }
    }
}
