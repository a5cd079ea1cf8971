package dev.moekit.prune.expert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.calib.RuntimeStats;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered {@link ExpertPruner}: the method contract, plus real behaviour on the reference
 * Mixtral (8 experts, top-2): asked to keep 6 experts per layer it keeps exactly 6 distinct original experts in every
 * MoE layer, the written checkpoint passes the structure checker, and a method that says it needs no calibration
 * really runs without statistics. Extend it once per set of pruners (a plugin module adds its own subclass).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class ExpertPrunerContract extends MethodContract<ExpertPruner<?>> {
    private StatsSource stats;

    @Override
    protected MethodKind<ExpertPruner<?>> kind() {
        return ExpertPruner.KIND;
    }

    /** The reference checkpoint the behaviour is checked on. */
    protected Path model() {
        return RefModels.model("mixtral-tiny");
    }

    /** Statistics of a short calibration (2 windows of 64 tokens), with MoE-block samples, collected once. */
    protected StatsSource stats() {
        if (stats == null) {
            Path dir = model();
            CalibrationOptions co = new CalibrationOptions(List.of(RefModels.shared().resolve("data/python.valid.txt")), 64, 2, false, false, 1);
            try (Checkpoint c = Checkpoint.open(dir); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
                CalibratedModel cm = new CalibratedModel(lm, Calibration.batches(dir, co, 2), co, Progress.NONE);
                stats = RuntimeStats.collect(cm, 128).stats();
            }
        }
        return stats;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void keepsExactlyTheAskedExpertsOnAReferenceModel(ExpertPruner<?> m) throws Exception {
        BoundPruner<?> bound = BoundPruner.of(m, m.bind(sampleParams(m)));
        Path out = Files.createTempDirectory("moekit-contract-").resolve(m.name());
        try (Checkpoint in = Checkpoint.open(model())) {
            ModelSpec spec = ModelSpec.of(in);
            StatsSource s = bound.needsCalibration() ? stats() : StatsSource.NONE;
            ExpertPruneReport r = ExpertPruning.run(in, spec, out, bound, ExpertPruneOptions.keep(6).withSeed(3), s,
                    CheckpointWriter.Options.defaults());
            assertEquals(m.name(), r.method());
            assertEquals(spec.layers(), r.layers().size());
            for (LayerResult lr : r.layers()) {
                int[] kept = lr.keptIndices();
                assertEquals(6, kept.length, "layer " + lr.layer());
                assertEquals(6, Arrays.stream(kept).distinct().count(), "layer " + lr.layer() + " keeps distinct experts");
                assertTrue(Arrays.stream(kept).allMatch(e -> e >= 0 && e < 8));
            }
            assertTrue(r.exact() && r.uniform());
            assertEquals(36, r.expertsAfter());
            assertNotNull(r.toJson().get("layers"));
            try (Checkpoint pc = Checkpoint.open(out)) {
                ModelSpec ps = ModelSpec.of(pc);
                assertEquals(List.of(), SpecChecker.check(pc, ps));
                for (int l = 0; l < ps.layers(); l++) {
                    assertEquals(6, ps.layer(l).experts());
                    assertEquals(spec.layer(l).topK(), ps.layer(l).topK());
                    assertEquals(6, pc.info(ps.name(Role.ROUTER, l)).dim(0));
                }
            }
        } finally {
            dev.moekit.toolkit.io.FileTrees.delete(out.getParent());
        }
    }
}
