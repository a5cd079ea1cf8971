package dev.moekit.prune.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import dev.moekit.toolkit.testing.TinyOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stage 2 on tiny random checkpoints through the real runtime and eval's sequential calibration. A "silent" expert
 * gets no calibration token: its router row is nearly zero while the other rows come in pairs (r, -r), so every token
 * has at least top-k logits above it.
 */
class UnstructuredPrunerTest {
    @TempDir
    Path tmp;

    /** Calibration text: a few windows of random token ids. */
    static List<TokenBatch> batches(int vocab, int windows, int length, long seed) {
        Random r = new Random(seed);
        int[][] w = new int[windows][length];
        for (int[] row : w) {
            for (int t = 0; t < length; t++) {
                row[t] = r.nextInt(vocab);
            }
        }
        return List.of(TokenBatch.of(w));
    }

    /** A tiny checkpoint whose expert {@code silent} (if >= 0) receives no routed token in any MoE layer. */
    static Path tiny(Path dir, TinyOptions o, int silent) {
        Path base = o.write(dir.resolveSibling(dir.getFileName() + "-base"));
        if (silent < 0) {
            return base;
        }
        try (Checkpoint c = Checkpoint.open(base)) {
            ModelSpec spec = ModelSpec.of(c);
            List<TensorSpec> plan = c.names().stream().map(n -> TensorSpec.of(c.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(dir, plan, CheckpointWriter.Options.defaults(), base)) {
                for (String n : c.names()) {
                    int layer = layerOfRouter(spec, n);
                    if (layer < 0) {
                        w.copy(n, c.shard(n), n);
                        continue;
                    }
                    int e = spec.layer(layer).experts();
                    int k = spec.layer(layer).topK();
                    int h = spec.hidden();
                    float[] router = c.floats(n);
                    int row = 0;
                    for (int pair = 0; pair < k; pair++) {
                        row += row == silent ? 1 : 0;
                        int a = row++;
                        row += row == silent ? 1 : 0;
                        int b = row++;
                        for (int i = 0; i < h; i++) {
                            router[b * h + i] = -router[a * h + i];
                        }
                    }
                    if (row > e) {
                        throw new IllegalArgumentException("need 2 * top-k + 1 experts");
                    }
                    for (int i = 0; i < h; i++) {
                        router[silent * h + i] *= 1e-3f;
                    }
                    w.write(n, router);
                }
                w.copyOtherFiles(c);
                w.commit(c.config());
            }
        }
        return dir;
    }

    private static int layerOfRouter(ModelSpec spec, String name) {
        for (int l = 0; l < spec.layers(); l++) {
            if (spec.layer(l).moe() && name.equals(spec.name(Role.ROUTER, l))) {
                return l;
            }
        }
        return -1;
    }

    /** Counts calibration passes (each ends with a progress update of the last layer). */
    static final class Passes implements Progress {
        int passes;

        @Override
        public void update(String task, int done, int total) {
            passes += done == total ? 1 : 0;
        }
    }

    private static CalibrationOptions options() {
        return new CalibrationOptions(List.of(RefModels.shared().resolve("data/python.valid.txt")), 32, 4, false, false, 1);
    }

    private static SparsityReport prune(Path in, Path out, String method, SparsityOptions o, Progress progress) {
        try (Checkpoint c = Checkpoint.open(in); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            CalibratedModel cm = new CalibratedModel(lm, batches(lm.spec().vocab(), 4, 32, 1), options(), progress);
            return UnstructuredPruner.run(c, lm.spec(), out, BoundSparsifier.of(method, null), o, cm, CheckpointWriter.Options.defaults());
        }
    }

    /** Input statistics of layer {@code layer}'s Q Linear when the batches run through {@code model} (dense pass). */
    private static ActivationNorms qInputs(Path model, int layer) {
        try (Checkpoint c = Checkpoint.open(model); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            CalibratedModel cm = new CalibratedModel(lm, batches(lm.spec().vocab(), 4, 32, 1), options(), Progress.NONE);
            ActivationNorms.Builder[] b = new ActivationNorms.Builder[1];
            cm.run(new CalibrationObserver() {
                @Override
                public boolean observes(int l) {
                    return l == layer;
                }

                @Override
                public Set<Role> linearInputs() {
                    return Set.of(Role.Q);
                }

                @Override
                public void linearInput(int l, Role role, int expert, NDArray input) {
                    float[] s = input.toType(DataType.FLOAT32, false).square().sum(new int[] {0}).toFloatArray();
                    if (b[0] == null) {
                        b[0] = new ActivationNorms.Builder(s.length);
                    }
                    b[0].addSums(s, input.getShape().get(0));
                }
            }, false, false);
            return b[0].build();
        }
    }

    @Test
    void wandaIsSequentialAndSkipsSilentExperts() throws Exception {
        Path inDir = tiny(tmp.resolve("in"), TinyCheckpoints.builder("mixtral").layers(3), 3);
        Path out = tmp.resolve("out");
        Passes passes = new Passes();
        SparsityReport r = prune(inDir, out, "wanda", SparsityOptions.of(0.5), passes);
        assertEquals(1, passes.passes);
        try (Checkpoint in = Checkpoint.open(inDir); Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec spec = ModelSpec.of(in);
            int h = spec.hidden();
            assertEquals(List.of(), SpecChecker.check(pc, ModelSpec.of(pc)));
            // layer 1's Q is pruned with inputs from the pruned layer 0 (the output's), not the dense one
            float[] expect = in.floats(spec.name(Role.Q, 1));
            WandaMask.pruneRows(expect, h, h, qInputs(out, 1).scale(), 0.5);
            assertArrayEquals(expect, pc.floats(spec.name(Role.Q, 1)));
            float[] dense = in.floats(spec.name(Role.Q, 1));
            WandaMask.pruneRows(dense, h, h, qInputs(inDir, 1).scale(), 0.5);
            assertFalse(java.util.Arrays.equals(dense, pc.floats(spec.name(Role.Q, 1))), "dense statistics would differ");
            // the silent expert stays dense and is reported
            for (int l = 0; l < 3; l++) {
                for (Role role : List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN)) {
                    String n = spec.name(role, l, 3);
                    assertArrayEquals(in.shard(n).readBytes(n), pc.shard(n).readBytes(n));
                }
                assertEquals(3, r.layers().get(l).skipped().size());
            }
            assertTrue(r.denseForLackOfTokens().contains("0:EXPERT_GATE[3]"));
            // router pruned too (reference scope): half of each row
            float[] router = pc.floats(spec.name(Role.ROUTER, 0));
            assertEquals(router.length / 2, zeros(router));
            assertEquals(in.totalBytes(), pc.totalBytes(), "zeros do not shrink dense storage");
            assertEquals(r.bytesIn(), r.bytesOut());
            assertFalse(Files.exists(out.resolve("unstructured_pruning.json")), "the report is returned, not written beside the weights");
            assertEquals(3, r.toJson().get("layers").size());
            assertEquals("wanda", r.toJson().get("method").asText());
            // nominal sparsity over all Linear weights: below 0.5 because expert 3 stayed dense
            long expertParams = 3L * spec.layer(0).expertFfn() * h;
            double expected = 0.5 * (r.linearParams() - 3 * expertParams) / r.linearParams();
            assertEquals(expected, r.nominalSparsity(), 0.002);
        }
    }

    @Test
    void scopeSwitchesAndMagnitudeFallback() throws Exception {
        Path inDir = tiny(tmp.resolve("in"), TinyCheckpoints.builder("qwen2_moe").layers(2), 0);
        Path out = tmp.resolve("out");
        SparsityOptions o = SparsityOptions.of(0.25).withScope(false, false).withEmptyExperts(EmptyExpertPolicy.MAGNITUDE);
        SparsityReport r = prune(inDir, out, "wanda", o, Progress.NONE);
        try (Checkpoint in = Checkpoint.open(inDir); Checkpoint pc = Checkpoint.open(out)) {
            ModelSpec spec = ModelSpec.of(in);
            for (Role untouched : List.of(Role.ROUTER, Role.SHARED_EXPERT_GATE, Role.Q, Role.O)) {
                String n = spec.name(untouched, 1);
                assertArrayEquals(in.shard(n).readBytes(n), pc.shard(n).readBytes(n), n);
            }
            String silent = spec.name(Role.EXPERT_UP, 1, 0);
            float[] expect = in.floats(silent);
            WandaMask.pruneRows(expect, spec.layer(1).expertFfn(), spec.hidden(), null, 0.25);
            assertArrayEquals(expect, pc.floats(silent), "magnitude fallback");
            assertEquals(3, r.layers().get(1).magnitude().size());
            String shared = spec.name(Role.SHARED_DOWN, 1);
            assertEquals(pc.floats(shared).length / 4, zeros(pc.floats(shared)));
        }
    }

    @Test
    void owlGivesLayerwiseRatiosAroundTheTarget() throws Exception {
        Path inDir = tiny(tmp.resolve("in"), TinyCheckpoints.builder("mixtral").layers(4).seed(2), -1);
        Passes passes = new Passes();
        SparsityReport r = prune(inDir, tmp.resolve("out"), "owl", SparsityOptions.of(0.6), passes);
        assertEquals(2, passes.passes, "one dense pass for the outlier ratios, one pruning pass");
        double mean = r.layers().stream().mapToDouble(LayerSparsity::target).average().orElseThrow();
        assertEquals(0.6, mean, 1e-9);
        double span = r.layers().stream().mapToDouble(LayerSparsity::target).max().orElseThrow()
                - r.layers().stream().mapToDouble(LayerSparsity::target).min().orElseThrow();
        assertEquals(0.16, span, 1e-9);
        try (Checkpoint in = Checkpoint.open(inDir)) {
            ModelSpec spec = ModelSpec.of(in);
            for (LayerSparsity l : r.layers()) {
                assertTrue(l.target() >= 0.6 - 0.16 - 1e-9 && l.target() <= 0.6 + 0.16 + 1e-9);
                assertTrue(l.skipped().isEmpty(), "every expert got tokens in layer " + l.layer());
                long zeros = 0;
                for (DecoderLinears.Linear lin : DecoderLinears.of(in, spec, l.layer())) {
                    zeros += (long) (int) (lin.in() * l.target()) * lin.out(); // floor(S_l * in) per row
                }
                assertEquals(zeros, l.zeros(), "layer " + l.layer());
                assertTrue(Double.isFinite(l.outlierRatio()));
            }
        }
    }

    @Test
    void twoFourOnEveryLinear() throws Exception {
        Path inDir = tiny(tmp.resolve("in"), TinyCheckpoints.builder("mixtral").layers(2), -1);
        SparsityReport r = prune(inDir, tmp.resolve("out"), "wanda", SparsityOptions.nm(2, 4), Progress.NONE);
        assertEquals(0.5, r.nominalSparsity(), 1e-12);
        assertEquals("wanda 2:4", r.toJson().get("method").asText());
    }

    @Test
    void owlRefusesNm() throws Exception {
        Path inDir = tiny(tmp.resolve("in"), TinyCheckpoints.builder("mixtral").layers(2), -1);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> prune(inDir, tmp.resolve("out"), "owl", SparsityOptions.nm(2, 4), Progress.NONE));
        assertTrue(e.getMessage().contains("N:M"), e.getMessage());
    }

    static long zeros(float[] a) {
        long z = 0;
        for (float v : a) {
            if (v == 0f) {
                z++;
            }
        }
        return z;
    }
}
