package dev.moekit.pipeline.batch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to start a worker JVM: this JVM's java, class path and the flags moekit needs, running {@link Worker}. Batch
 * jobs on a cluster assume the class path and the job folder are on a filesystem every node sees (as the checkpoint
 * must be).
 */
record Launch(List<String> prefix) {
    static Launch current() {
        List<String> c = new ArrayList<>();
        c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        c.addAll(dev.moekit.toolkit.JvmFlags.ALL);
        for (String p : new String[] {"moekit.shared", "java.io.tmpdir"}) {
            if (System.getProperty(p) != null) {
                c.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        String heap = System.getProperty("moekit.worker.heap");
        if (heap != null) {
            c.add("-Xmx" + heap);
        }
        c.add("-cp");
        c.add(System.getProperty("java.class.path"));
        c.add(Worker.class.getName());
        return new Launch(List.copyOf(c));
    }

    List<String> command(String... args) {
        List<String> c = new ArrayList<>(prefix);
        c.addAll(List.of(args));
        return c;
    }

    /** The command as one shell line, each word single-quoted. */
    static String shell(List<String> words) {
        StringBuilder b = new StringBuilder();
        for (String w : words) {
            if (!b.isEmpty()) {
                b.append(' ');
            }
            b.append('\'').append(w.replace("'", "'\\''")).append('\'');
        }
        return b.toString();
    }
}
