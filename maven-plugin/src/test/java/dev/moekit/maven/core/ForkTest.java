package dev.moekit.maven.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fork's command line, and real forks of the moekit CLI on this test's classpath (no model work). */
class ForkTest {
    @TempDir
    Path tmp;

    final List<String> lines = new ArrayList<>();
    final BuildLog log = new BuildLog() {
        @Override
        public void info(String m) {
            lines.add("info " + m);
        }

        @Override
        public void warn(String m) {
            lines.add("warn " + m);
        }

        @Override
        public void error(String m) {
            lines.add("error " + m);
        }

        @Override
        public void debug(String m) {}
    };

    Fork fork(String maxHeap, String shared, Map<String, String> env) {
        List<Path> cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator)).map(Path::of).toList();
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return new Fork(new ForkOptions(java, cp, List.of("-Dx=1"), maxHeap, shared, env, tmp, tmp.resolve("moekit/x.args")), log);
    }

    @Test
    void commandHasTheLaunchersFlagsHeapSharedAndMainClass() {
        List<String> c = fork("2g", "/data/shared", Map.of()).jvmCommand();
        assertEquals(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"), c.subList(0, 4));
        assertTrue(c.contains("-Dai.djl.pytorch.graph_optimizer=false"));
        assertTrue(c.indexOf("-Xmx2g") < c.indexOf("-Dx=1"), "the user's options come after moekit's");
        assertTrue(c.contains("-Dmoekit.shared=/data/shared"));
        assertEquals(Fork.MAIN, c.get(c.size() - 1));
        assertEquals("-cp", c.get(c.size() - 3));
        assertFalse(fork(null, null, Map.of()).jvmCommand().stream().anyMatch(a -> a.startsWith("-Xmx") || a.startsWith("-Dmoekit.shared")));
    }

    @Test
    void djlIsOfflineUnlessTheUserSaysOtherwise() {
        assertEquals(Map.of("DJL_OFFLINE", "true", "OMP_NUM_THREADS", "2"), fork(null, null, Map.of("OMP_NUM_THREADS", "2")).environment(Map.of()));
        assertEquals(Map.of(), fork(null, null, Map.of()).environment(Map.of("DJL_OFFLINE", "false")));
    }

    @Test
    void badHeapIsRefused() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> fork("lots", null, Map.of()));
        assertEquals("maxHeap must be a size such as 4g or 512m, got 'lots'", e.getMessage());
    }

    @Test
    void argumentFileQuoting() {
        assertEquals("\"a b\"", Fork.quote("a b"));
        assertEquals("\"C:\\\\x \\\"y\\\"\"", Fork.quote("C:\\x \"y\""));
    }

    @Test
    void forkedCliStreamsItsOutputAndExitCode() throws Exception {
        Fork.Result ok = fork("256m", null, Map.of()).run(List.of("--version"));
        assertEquals(0, ok.exitCode());
        assertTrue(lines.stream().anyMatch(l -> l.matches("info moekit \\S+")), lines.toString());
        assertFalse(lines.stream().anyMatch(l -> l.contains("Using incubator modules")), "the incubator warning is dropped");
        assertTrue(Files.readString(tmp.resolve("moekit/x.args")).contains("\"jdk.incubator.vector\""));

        lines.clear();
        Fork.Result bad = fork("256m", null, Map.of()).run(List.of("run", tmp.resolve("missing.yaml").toString()));
        assertEquals(1, bad.exitCode());
        assertEquals(1, bad.errors().size(), lines.toString());
        assertTrue(bad.errors().get(0).startsWith("moekit run: " + tmp.resolve("missing.yaml") + ": file not found"), bad.errors().toString());
        assertTrue(lines.contains("error " + bad.errors().get(0)), "errors are logged as errors");
        assertEquals(bad.errors().get(0), bad.failure());
    }
}
