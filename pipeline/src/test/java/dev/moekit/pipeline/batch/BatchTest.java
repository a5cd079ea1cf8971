package dev.moekit.pipeline.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.Prepared;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batch jobs give the bytes of a single-process run, with local workers and on a real one-node Slurm cluster. */
class BatchTest {
    @TempDir
    Path dir;

    static final String STAGES = "stages:\n  - convert: {dtype: fp16, layers_per_unit: 1, max_shard_bytes: 30000}\n  - slow_convert: {dtype: fp32, sleep_ms: %d}\n";

    private Recipe recipe(String out, int sleepMs) throws Exception {
        Path r = dir.resolve(out + ".yaml");
        Files.writeString(r, "model: tiny\noutput: " + out + "\n" + STAGES.formatted(sleepMs));
        return Recipe.read(r);
    }

    static Map<String, String> hashes(Path ckpt) throws Exception {
        Map<String, String> h = new TreeMap<>();
        try (var fs = Files.list(ckpt)) {
            for (Path f : fs.filter(f -> !f.getFileName().toString().equals("moekit_provenance.json")).toList()) {
                h.put(f.getFileName().toString(), Fingerprint.content(f));
            }
        }
        return h;
    }

    private Map<String, String> single() throws Exception {
        Pipeline.standard(Events.NONE).run(recipe("single", 0));
        return hashes(dir.resolve("single"));
    }

    @Test
    void twoLocalWorkersWriteTheBytesOfOneProcess() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Map<String, String> expected = single();
        Pipeline p = Pipeline.standard(Events.NONE);
        Prepared prep = p.prepare(recipe("two", 0));
        Batch.submit(p, prep, new BatchOptions("local", 2, List.of("cpu"), 2, BatchOptions.Slurm.defaults()), true, Events.NONE);
        assertEquals(expected, hashes(dir.resolve("two")));
        assertFalse(Files.exists(dir.resolve("two.work")));
    }

    @Test
    void aFailingUnitStopsTheJobNamingItsLogAndResumeFinishesIt() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path flag = Files.writeString(dir.resolve("fail"), "x");
        Path r = dir.resolve("out.yaml");
        Files.writeString(r, "model: tiny\noutput: out\nstages:\n  - convert: {dtype: fp16}\n  - slow_convert: {dtype: fp32, fail_while: " + flag + "}\n");
        Pipeline p = Pipeline.standard(Events.NONE);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Batch.submit(p, p.prepare(Recipe.read(r)),
                new BatchOptions("local", 2, List.of(), 2, BatchOptions.Slurm.defaults()), true, Events.NONE));
        assertTrue(e.getMessage().contains("unit layers-01-01 of stage 2 (slow_convert) failed after 2 attempt(s); log: ")
                && e.getMessage().contains("told to fail"), e.getMessage());
        String status = Batch.status(dir.resolve("out.work"), Events.NONE);
        assertTrue(status.contains("stage 1/2 convert: committed") && status.contains("1 failed"), status);
        Files.delete(flag);
        Batch.resume(dir.resolve("out.work"), true, Events.NONE, null);
        assertTrue(Files.isRegularFile(dir.resolve("out/moekit_provenance.json")));
        assertFalse(Files.exists(dir.resolve("out.work")));
    }

    @Test
    void onSlurmAJobArrayWritesTheBytesOfOneProcessEvenAfterATaskIsKilled() throws Exception {
        String why = LocalSlurm.unavailable();
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(why == null, "CI installs Slurm (.ci/run), so this test must run there: " + why);
        }
        Assumptions.assumeTrue(why == null, "Slurm cannot start here: " + why);
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Map<String, String> expected = single();
        try (LocalSlurm slurm = LocalSlurm.start(dir.resolve("slurm"))) {
            System.setProperty("moekit.slurm.conf", slurm.conf().toString());
            Pipeline p = Pipeline.standard(Events.NONE);
            // a clean run: job arrays, commits and the finish, waited for
            Batch.submit(p, p.prepare(recipe("arr", 0)), new BatchOptions("slurm", 2, List.of(), 1, BatchOptions.Slurm.defaults()), true, Events.NONE);
            assertEquals(expected, hashes(dir.resolve("arr")));
            // kill one task of the second stage's array while it runs: the job stalls, resume completes it
            Batch.Submitted s = Batch.submit(p, p.prepare(recipe("killed", 1500)),
                    new BatchOptions("slurm", 2, List.of(), 1, BatchOptions.Slurm.defaults()), false, Events.NONE);
            String array = s.ids().get(2); // stage 1 array, stage 1 commit, stage 2 array, ...
            long until = System.nanoTime() + 120_000_000_000L;
            String running = null;
            while (running == null && System.nanoTime() < until) {
                String q = LocalSlurm.run(slurm.conf(), "squeue", "-h", "-j", array, "-t", "RUNNING", "-o", "%i");
                if (q != null && !q.isBlank()) {
                    running = q.lines().findFirst().orElseThrow().strip();
                }
                Thread.sleep(200);
            }
            assertTrue(running != null, "a task of the second stage ran");
            LocalSlurm.run(slurm.conf(), "scancel", running);
            Thread.sleep(2000);
            assertFalse(Files.exists(dir.resolve("killed/config.json")), "the job cannot finish with a task killed");
            Batch.resume(dir.resolve("killed.work"), true, Events.NONE, null);
            assertEquals(expected, hashes(dir.resolve("killed")));
        } finally {
            System.clearProperty("moekit.slurm.conf");
        }
    }
}
