package dev.moekit.toolkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The JVM flags every moekit process runs with (the Vector API, native access for DJL and JavaCPP, Unsafe for
 * JavaCPP, the parallel collector, DJL and logging settings), one per line in {@code jvm-flags.txt} beside this class:
 * the {@code ./moekit} launcher reads the same file, batch workers and the Maven plugin's forks use {@link #ALL}.
 */
public final class JvmFlags {
    /** The flags, in order. */
    public static final List<String> ALL = read();

    private JvmFlags() {
    }

    private static List<String> read() {
        try (InputStream in = JvmFlags.class.getResourceAsStream("jvm-flags.txt")) {
            if (in == null) {
                throw new IllegalStateException("jvm-flags.txt is missing from the moekit-toolkit jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::trim).filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
