package dev.moekit.pipeline;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM (what Ctrl-C and schedulers send) in the middle of a stage leaves no half-written folder behind. */
class SignalTest {
    @TempDir
    Path dir;

    @Test
    void sigtermRemovesTheUnfinishedStage() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path recipe = dir.resolve("r.yaml");
        Files.writeString(recipe, "model: tiny\noutput: out\nstages: [slow]\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                SlowRun.class.getName(), recipe.toString()).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            boolean writing = false;
            StringBuilder seen = new StringBuilder();
            while ((line = r.readLine()) != null) {
                seen.append(line).append('\n');
                if (line.contains("WRITING")) {
                    writing = true;
                    break;
                }
            }
            assertTrue(writing, "the child reached its stage: " + seen);
            try (var found = Files.walk(dir.resolve("out.work"))) {
                assertTrue(found.anyMatch(f -> f.getFileName().toString().equals("big.bin")), "the unit is writing");
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child stops on SIGTERM");
        } finally {
            p.destroyForcibly();
        }
        assertFalse(Files.exists(dir.resolve("out.work")), "the unfinished stage (and the then empty work folder) is removed");
        assertFalse(Files.exists(dir.resolve("out")));
        assertFalse(Files.exists(dir.resolve("out.lock")), "the lock file goes with its holder");
    }
}
