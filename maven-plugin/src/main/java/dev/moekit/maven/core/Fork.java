package dev.moekit.maven.core;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Runs one {@code moekit} command in a child JVM: the CLI main class on the plugin's classpath with the flags of the
 * {@code ./moekit} launcher, {@code DJL_OFFLINE=true}, and the fork's own heap. Its output lines go to the build log as
 * they arrive (progress included); lines in the CLI's error form ({@code moekit <command>: ...}) are kept for the
 * failure message. A native abort or an out-of-memory kill ends the child, never Maven.
 */
public final class Fork {
    /** The moekit command line's main class. */
    public static final String MAIN = "dev.moekit.recipes.cli.Main";
    /** The JVM flags {@code ./moekit} passes (Vector API, native access for DJL/JavaCPP, Unsafe for JavaCPP). */
    public static final List<String> FLAGS = dev.moekit.toolkit.JvmFlags.ALL;
    private static final Pattern CLI_ERROR = Pattern.compile("^moekit [a-z][a-z-]*: .*");
    private static final String INCUBATOR = "WARNING: Using incubator modules";

    /** How a command ended: exit code, its error lines, the last lines it printed. */
    public record Result(int exitCode, List<String> errors, List<String> tail) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** The failure text: the CLI's error lines, or the last lines printed when it wrote none (a crash). */
        public String failure() {
            List<String> lines = errors.isEmpty() ? tail : errors;
            return lines.isEmpty() ? "the moekit JVM exited with code " + exitCode + " and printed nothing"
                    : String.join("\n", lines) + (errors.isEmpty() ? "\n(the moekit JVM exited with code " + exitCode + ")" : "");
        }
    }

    private final ForkOptions options;
    private final BuildLog log;

    public Fork(ForkOptions options, BuildLog log) {
        this.options = options;
        this.log = log;
    }

    /** The JVM options and main class, without the command's arguments (what the argument file holds). */
    public List<String> jvmCommand() {
        List<String> c = new ArrayList<>(FLAGS);
        if (options.maxHeap() != null && !options.maxHeap().isBlank()) {
            c.add("-Xmx" + options.maxHeap());
        }
        if (options.shared() != null && !options.shared().isBlank()) {
            c.add("-Dmoekit.shared=" + options.shared());
        }
        c.addAll(options.jvmArgs());
        c.add("-cp");
        c.add(options.classpath().stream().map(Path::toString).collect(Collectors.joining(java.io.File.pathSeparator)));
        c.add(MAIN);
        return c;
    }

    /** The environment changes the fork gets: {@code DJL_OFFLINE=true} unless set, then the configured variables. */
    public Map<String, String> environment(Map<String, String> inherited) {
        Map<String, String> env = new java.util.LinkedHashMap<>();
        if (!inherited.containsKey("DJL_OFFLINE")) {
            env.put("DJL_OFFLINE", "true");
        }
        env.putAll(options.environment());
        return env;
    }

    /** Runs {@code moekit <args...>} and waits for it. */
    public Result run(List<String> args) throws IOException, InterruptedException {
        Files.createDirectories(options.argFile().getParent());
        Files.writeString(options.argFile(), jvmCommand().stream().map(Fork::quote).collect(Collectors.joining("\n")) + "\n", StandardCharsets.UTF_8);
        List<String> cmd = new ArrayList<>(List.of(options.java().toString(), "@" + options.argFile()));
        cmd.addAll(args);
        log.debug("moekit fork: " + String.join(" ", cmd) + " (JVM options in " + options.argFile() + ")");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(options.workDir().toFile());
        pb.environment().putAll(environment(System.getenv()));
        Process p = pb.start();
        p.getOutputStream().close();
        Thread stopChild = new Thread(() -> {
            p.destroy(); // SIGTERM: the pipeline removes its unfinished stage and its lock
            try {
                p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // shutting down
            }
        }, "moekit-fork-stop");
        Runtime.getRuntime().addShutdownHook(stopChild);
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        Deque<String> tail = new ArrayDeque<>();
        Thread out = pump(p.getInputStream(), "moekit-fork-out", line -> {
            remember(tail, line);
            log.info(line);
        });
        Thread err = pump(p.getErrorStream(), "moekit-fork-err", new Consumer<>() {
            private boolean first = true;

            @Override
            public void accept(String line) {
                if (first && line.startsWith(INCUBATOR)) {
                    first = false;
                    return;
                }
                first = false;
                remember(tail, line);
                if (CLI_ERROR.matcher(line).matches()) {
                    errors.add(line);
                    log.error(line);
                } else if (line.startsWith("moekit: warning: ") || line.startsWith("WARNING: ")) {
                    log.warn(line);
                } else {
                    log.info(line);
                }
            }
        });
        try {
            int code = p.waitFor();
            out.join();
            err.join();
            synchronized (tail) {
                return new Result(code, List.copyOf(errors), List.copyOf(tail));
            }
        } catch (InterruptedException e) {
            p.destroy();
            throw e;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(stopChild);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook stops the child
            }
        }
    }

    private static void remember(Deque<String> tail, String line) {
        synchronized (tail) {
            tail.addLast(line);
            while (tail.size() > 20) {
                tail.removeFirst();
            }
        }
    }

    private static Thread pump(InputStream in, String name, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** One token of a {@code java @file} argument file: quoted, backslashes and quotes escaped. */
    static String quote(String arg) {
        return "\"" + arg.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
