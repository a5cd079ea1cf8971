package dev.moekit.maven.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds the JDK 25 (or newer) the forked moekit JVM runs on, the way {@code scripts/find-jdk.sh} does for
 * {@code ./moekit}: an explicitly configured home, a Maven toolchain, {@code $MOEKIT_JAVA_HOME}, {@code $JAVA_HOME},
 * the JDK running Maven, then the usual install folders ({@code /usr/lib/jvm}, {@code /usr/java}, {@code /opt},
 * sdkman, {@code ~/.jdks}), newest first. Nothing machine-specific is assumed.
 */
public final class Jdk {
    /** The oldest Java version moekit runs on. */
    public static final int MIN = 25;
    private static final Pattern RELEASE = Pattern.compile("(?m)^JAVA_VERSION=\"?([0-9]+)(?:\\.([0-9]+))?");
    private static final Pattern VERSION_OUT = Pattern.compile("version \"([0-9]+)(?:\\.([0-9]+))?");

    /** A JDK found: its home, major version and where it was found (for the log). */
    public record Found(Path home, int major, String source) {
        public Path java() {
            return home.resolve("bin").resolve("java");
        }
    }

    /** A candidate with its origin. */
    public record Candidate(Path home, String source) {}

    private Jdk() {}

    /**
     * The JDK to fork.
     *
     * @param configured the {@code javaHome} parameter, or null; when set it must be a JDK 25 or newer
     * @param toolchains homes of matching Maven toolchains ({@code jdk}), in preference order
     * @param env        the environment ({@code MOEKIT_JAVA_HOME}, {@code JAVA_HOME}, {@code HOME})
     * @param running    the home of the JVM running Maven
     * @param roots      folders whose sub-folders are install candidates (e.g. {@code /usr/lib/jvm})
     */
    public static Found find(Path configured, List<Candidate> toolchains, Map<String, String> env, Path running, List<Path> roots) throws TaskFailure {
        if (configured != null) {
            int v = major(configured);
            if (v < MIN) {
                throw new TaskFailure("javaHome " + configured + (v < 0 ? " is not a JDK (no bin/java)" : " is Java " + v)
                        + "; moekit needs a JDK " + MIN + " or newer");
            }
            return new Found(configured, v, "javaHome");
        }
        List<Candidate> ordered = new ArrayList<>(toolchains);
        for (String var : new String[] {"MOEKIT_JAVA_HOME", "JAVA_HOME"}) {
            String h = env.get(var);
            if (h != null && !h.isBlank()) {
                ordered.add(new Candidate(Path.of(h), "$" + var));
            }
        }
        if (running != null) {
            ordered.add(new Candidate(running, "the JVM running Maven"));
        }
        for (Candidate c : ordered) {
            int v = major(c.home());
            if (v >= MIN) {
                return new Found(c.home(), v, c.source());
            }
        }
        Found best = null;
        for (Path root : roots) {
            for (Path home : children(root)) {
                int v = major(home);
                if (v >= MIN && (best == null || v > best.major())) {
                    best = new Found(home, v, root.toString());
                }
            }
        }
        if (best != null) {
            return best;
        }
        throw new TaskFailure("no JDK " + MIN + " or newer found for the forked moekit JVM (looked at the javaHome parameter, a Maven toolchain"
                + " of type jdk, $MOEKIT_JAVA_HOME, $JAVA_HOME, the JVM running Maven and " + roots + "); install one (for example"
                + " Temurin 25) and set <javaHome>, $MOEKIT_JAVA_HOME, or a toolchain in ~/.m2/toolchains.xml");
    }

    /** The usual install folders, as {@code find-jdk.sh} lists them. */
    public static List<Path> defaultRoots(Map<String, String> env) {
        List<Path> r = new ArrayList<>(List.of(Path.of("/usr/lib/jvm"), Path.of("/usr/java"), Path.of("/opt"), Path.of("/opt/java"),
                Path.of("/Library/Java/JavaVirtualMachines")));
        String home = env.get("HOME");
        if (home != null && !home.isBlank()) {
            r.add(Path.of(home, ".sdkman", "candidates", "java"));
            r.add(Path.of(home, ".jdks"));
        }
        return r;
    }

    private static List<Path> children(Path root) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> Files.isDirectory(p.resolve("Contents/Home")) ? p.resolve("Contents/Home") : p)
                    .filter(Files::isDirectory).sorted(Comparator.comparing(Path::toString)).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The major Java version of the JDK at {@code home} (its {@code release} file, else {@code java -version}), or -1. */
    public static int major(Path home) {
        Path java = home.resolve("bin").resolve("java");
        if (!Files.isExecutable(java)) {
            return -1;
        }
        Path release = home.resolve("release");
        if (Files.isRegularFile(release)) {
            try {
                int v = parse(RELEASE.matcher(Files.readString(release, StandardCharsets.ISO_8859_1)));
                if (v > 0) {
                    return v;
                }
            } catch (IOException ignored) {
                // fall back to running it
            }
        }
        try {
            Process p = new ProcessBuilder(java.toString(), "-version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            return parse(VERSION_OUT.matcher(out));
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static int parse(Matcher m) {
        if (!m.find()) {
            return -1;
        }
        int major = Integer.parseInt(m.group(1));
        return major == 1 && m.group(2) != null ? Integer.parseInt(m.group(2)) : major; // 1.8 -> 8
    }
}
