package dev.moekit.pipeline.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch job mechanics on convert stages: a failing unit stops the job naming its log and resume finishes it; Slurm
 * waves. The byte-for-byte comparisons with a single-process run (local workers and a real Slurm cluster, on a recipe
 * that prunes and quantizes) are the recipes module's BatchTest, where those stages are on the class path.
 */
class BatchTest {
    @TempDir
    Path dir;

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
    void slurmRunsUnitsInDependencyWavesOfIndependentUnits() {
        WorkUnit a = new WorkUnit("a", "", 0, 0, 1, List.of(), null);
        WorkUnit b = new WorkUnit("b", "", 0, 0, 1, List.of("a"), null);
        WorkUnit c = new WorkUnit("c", "", 0, 0, 1, List.of(), null);
        WorkUnit d = new WorkUnit("d", "", 0, 0, 1, List.of("b", "c"), null);
        List<WorkUnit> units = List.of(a, b, c, d);
        assertEquals(List.of(List.of(0, 2), List.of(1), List.of(3)), SlurmExecutor.waves(units, List.of(0, 1, 2, 3)));
        // a finished unit no longer holds its dependants back
        assertEquals(List.of(List.of(1), List.of(3)), SlurmExecutor.waves(units, List.of(1, 3)));
        assertEquals(List.of(List.of(0, 1, 2, 3)), SlurmExecutor.waves(units.stream().map(u -> new WorkUnit(u.id(), "", 0, 0, 1, List.of(), null)).toList(),
                List.of(0, 1, 2, 3)));
    }
}
