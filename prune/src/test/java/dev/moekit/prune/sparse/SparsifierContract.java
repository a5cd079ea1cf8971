package dev.moekit.prune.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered {@link Sparsifier}: the method contract, plus real behaviour on the reference
 * Mixtral with a short calibration: per-layer targets average the asked sparsity and stay in [0, 1] (also for targets
 * near 0 and 1), the pruned checkpoint passes the structure checker and its nominal sparsity is the target over the
 * Linears that got tokens; a method that supports N:M reaches exactly N/M on every pruned Linear.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class SparsifierContract extends MethodContract<Sparsifier<?>> {
    @Override
    protected MethodKind<Sparsifier<?>> kind() {
        return Sparsifier.KIND;
    }

    protected Path model() {
        return RefModels.model("mixtral-tiny");
    }

    private CalibratedModel open(Checkpoint c) {
        CalibrationOptions co = new CalibrationOptions(List.of(RefModels.shared().resolve("data/kernel.valid.txt")), 64, 2, false, false, 1);
        CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu());
        return new CalibratedModel(lm, Calibration.batches(model(), co, 2), co, Progress.NONE);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void reachesItsTargetOnAReferenceModel(Sparsifier<?> m) throws Exception {
        BoundSparsifier<?> bound = BoundSparsifier.of(m, m.bind(sampleParams(m)));
        Path dir = Files.createTempDirectory("moekit-contract-");
        try (Checkpoint in = Checkpoint.open(model()); CalibratedModel cm = open(in)) {
            ModelSpec spec = ModelSpec.of(in);
            List<List<DecoderLinears.Linear>> linears = new ArrayList<>();
            for (int l = 0; l < spec.layers(); l++) {
                linears.add(DecoderLinears.of(in, spec, l));
            }
            for (double s : new double[] {0.02, 0.5, 0.98}) {
                SparsityOptions o = SparsityOptions.of(s);
                Sparsifier.Targets t = bound.targets(s, new SparsifyInput(in, spec, o, linears, cm));
                assertEquals(spec.layers(), t.sparsity().length);
                assertEquals(s, java.util.Arrays.stream(t.sparsity()).average().orElseThrow(), 1e-9, "targets average " + s);
                for (double v : t.sparsity()) {
                    assertTrue(v >= 0 && v <= 1, "layer target " + v + " for " + s);
                }
            }
            List<SparsityOptions> runs = new ArrayList<>(List.of(SparsityOptions.of(0.5)));
            if (m.supportsNm()) {
                runs.add(SparsityOptions.nm(2, 4));
            }
            for (SparsityOptions o : runs) {
                Path out = dir.resolve(o.nmN() > 0 ? "nm" : "s");
                SparsityReport r = UnstructuredPruner.run(in, spec, out, bound, o, cm, CheckpointWriter.Options.defaults());
                assertEquals(spec.layers(), r.layers().size());
                long expected = 0; // floor(S_l * in) zeros per row of every Linear that got tokens (N:M: N/M of each)
                for (LayerSparsity l : r.layers()) {
                    double target = o.nmN() > 0 ? o.sparsity() : l.target();
                    for (DecoderLinears.Linear lin : linears.get(l.layer())) {
                        expected += l.skipped().contains(lin.key()) ? 0 : (long) (int) (lin.in() * target) * lin.out();
                    }
                }
                assertEquals((double) expected / r.linearParams(), r.nominalSparsity(), 1e-4, m.name() + " " + o);
                try (Checkpoint pc = Checkpoint.open(out)) {
                    assertEquals(List.of(), SpecChecker.check(pc, ModelSpec.of(pc)));
                    assertEquals(in.totalBytes(), pc.totalBytes());
                }
            }
        } finally {
            FileTrees.delete(dir);
        }
    }
}
