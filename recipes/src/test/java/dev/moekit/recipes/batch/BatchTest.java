package dev.moekit.recipes.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.batch.Batch;
import dev.moekit.pipeline.batch.BatchOptions;
import dev.moekit.pipeline.batch.LocalSlurm;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A recipe that prunes (calibrated frequency) and quantizes (calibrated GPTQ, int4) mixtral-tiny, run as a batch job
 * split into per-layer work units: the local executor with two workers and a job array on a real one-node Slurm
 * cluster (one task killed mid-way, then resumed) write the bytes of {@link Pipeline#run} in one process.
 */
class BatchTest {
    static final Path SHARED = Path.of(System.getProperty("moekit.shared", "../shared")).toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** The single-process run both tests compare with, made once per class. */
    @TempDir
    static Path once;
    private static Map<String, String> singleHashes;
    private static List<JsonNode> singleReports;

    private static synchronized Map<String, String> single() throws Exception {
        if (singleHashes == null) {
            Pipeline.standard(Events.NONE).run(recipe(once, "single", 64));
            singleHashes = hashes(once.resolve("single"));
            singleReports = reports(once.resolve("single"));
        }
        return singleHashes;
    }

    /** Two 64-token calibration windows per file, two files: enough routing for decisions, quick on two cores. */
    private Recipe recipe(String out, int layersPerUnit) throws Exception {
        return recipe(dir, out, layersPerUnit);
    }

    private static Recipe recipe(Path dir, String out, int layersPerUnit) throws Exception {
        Path r = dir.resolve(out + ".yaml");
        Files.writeString(r, """
                model: %s
                output: %s
                seed: 7
                calibration: {data: [%s, %s], windows: 2, window: 64}
                stages:
                  - prune: {method: frequency, experts: 0.25, layers_per_unit: %d}
                  - quantize: {method: gptq, bits: 4, group_size: 32, min_tokens: 8, targets: ["kind:attention"], layers_per_unit: %d}
                """.formatted(SHARED.resolve("models/mixtral-tiny"), out, SHARED.resolve("data/python.valid.txt"), SHARED.resolve("data/misc.valid.txt"),
                layersPerUnit, layersPerUnit));
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

    /** The stage reports (what the provenance keeps), without the timings and the plan, which lists the units. */
    static List<JsonNode> reports(Path ckpt) throws Exception {
        JsonNode prov = Json.STRICT.readTree(ckpt.resolve("moekit_provenance.json").toFile());
        return java.util.stream.StreamSupport.stream(prov.path("stages").spliterator(), false).map(s -> s.path("report")).toList();
    }

    @Test
    void twoLocalWorkersOnLayerUnitsWriteTheBytesOfOneProcessOnTheWholeModel() throws Exception {
        Map<String, String> expected = single();
        Pipeline p = Pipeline.standard(Events.NONE);
        var prep = p.prepare(recipe("two", 2));
        Plan quant = prep.plans().get(1);
        assertTrue(quant.units().size() > 3 && quant.units().stream().anyMatch(u -> !u.after().isEmpty()),
                "GPTQ plans chained layer units: " + quant.toJson());
        Batch.submit(p, prep, new BatchOptions("local", 2, List.of("cpu"), 1, BatchOptions.Slurm.defaults()), true, Events.NONE);
        assertEquals(expected, hashes(dir.resolve("two")));
        assertEquals(singleReports, reports(dir.resolve("two")), "merged unit reports are the one-unit reports");
        assertFalse(Files.exists(dir.resolve("two.work")));
    }

    @Test
    void onSlurmJobArraysPruneAndQuantizeToTheBytesOfOneProcessEvenAfterATaskIsKilled() throws Exception {
        String why = LocalSlurm.unavailable();
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(why == null, "CI installs Slurm (.ci/run), so this test must run there: " + why);
        }
        Assumptions.assumeTrue(why == null, "Slurm cannot start here: " + why);
        Map<String, String> expected = single();
        try (LocalSlurm slurm = LocalSlurm.start(dir.resolve("slurm"))) {
            System.setProperty("moekit.slurm.conf", slurm.conf().toString());
            Pipeline p = Pipeline.standard(Events.NONE);
            // kill the first running task of a layer unit of the quantize stage: the job stalls, resume completes it
            Batch.Submitted s = Batch.submit(p, p.prepare(recipe("killed", 2)), new BatchOptions("slurm", 2, List.of(), 1, BatchOptions.Slurm.defaults()),
                    false, Events.NONE);
            long until = System.nanoTime() + 240_000_000_000L;
            String killed = null;
            while (killed == null && System.nanoTime() < until) {
                String q = LocalSlurm.run(slurm.conf(), "squeue", "-h", "-t", "RUNNING", "-o", "%i|%j");
                if (q != null) {
                    for (String line : q.lines().toList()) {
                        String[] f = line.strip().split("\\|");
                        if (f.length == 2 && f[1].equals("moekit-s2")) {
                            Thread.sleep(500); // the worker JVM is starting or working: mid-way through the unit
                            LocalSlurm.run(slurm.conf(), "scancel", f[0]);
                            killed = f[0];
                            break;
                        }
                    }
                }
                Thread.sleep(200);
            }
            assertTrue(killed != null, "a quantize unit ran on Slurm (submitted " + s.ids() + ")");
            Thread.sleep(3000);
            assertFalse(Files.exists(dir.resolve("killed/config.json")), "the job cannot finish with a task killed");
            Batch.resume(dir.resolve("killed.work"), true, Events.NONE, null);
            assertEquals(expected, hashes(dir.resolve("killed")));
            assertEquals(singleReports, reports(dir.resolve("killed")));
        } finally {
            System.clearProperty("moekit.slurm.conf");
        }
    }
}
