package dev.moekit.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** moekit's version, from the build (recorded in every provenance and part of every resume key). */
public final class Version {
    /** The version string, e.g. {@code 0.1.0-SNAPSHOT}. */
    public static final String VERSION = read();

    private Version() {}

    private static String read() {
        try (InputStream in = Version.class.getResourceAsStream("/moekit-version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read moekit-version.properties", e);
        }
    }
}
