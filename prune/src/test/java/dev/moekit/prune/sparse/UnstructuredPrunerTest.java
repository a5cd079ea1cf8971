package dev.moekit.prune.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stage 2 on a tiny Mixtral with a toy sequential calibration whose layer-l inputs are x_l = x_{l-1} W_Q(l-1)^T using
 * the weights as modified so far, so a test can tell sequential statistics from dense ones.
 */
class UnstructuredPrunerTest {
    @TempDir
    Path tmp;

    /** Toy calibration: experts with index in {@code silent} never receive tokens. */
    static final class ToyCalibration implements SequentialCalibration {
        final Checkpoint in;
        final ModelSpec spec;
        final List<Integer> silent;
        int passes;

        ToyCalibration(Checkpoint in, ModelSpec spec, List<Integer> silent) {
            this.in = in;
            this.spec = spec;
            this.silent = silent;
        }

        static float[] input(int tokens, int width, long seed) {
            Random r = new Random(seed);
            float[] x = new float[tokens * width];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
            }
            return x;
        }

        @Override
        public Pass open() {
            passes++;
            return new Pass() {
                final Map<LinearKey, float[]> current = new HashMap<>();
                float[] x = input(20, spec.hidden(), 1);

                @Override
                public Map<LinearKey, ActivationNorms> observe(int layer) {
                    Map<LinearKey, ActivationNorms> m = new HashMap<>();
                    for (DecoderLinears.Linear l : DecoderLinears.of(in, spec, layer)) {
                        if (l.key().expert() >= 0 && silent.contains(l.key().expert())) {
                            continue;
                        }
                        float[] xi = l.in() == spec.hidden() ? x : input(20, l.in(), l.name().hashCode());
                        m.put(l.key(), ActivationNorms.of(xi, l.in()));
                    }
                    return m;
                }

                @Override
                public void replace(int layer, LinearKey key, float[] weight) {
                    current.put(key, weight.clone());
                }

                @Override
                public void advance(int layer) {
                    float[] q = current.getOrDefault(LinearKey.of(Role.Q), in.floats(spec.name(Role.Q, layer)));
                    int h = spec.hidden();
                    float[] next = new float[x.length];
                    for (int t = 0; t < x.length / h; t++) {
                        for (int o = 0; o < h; o++) {
                            double s = 0;
                            for (int i = 0; i < h; i++) {
                                s += (double) q[o * h + i] * x[t * h + i];
                            }
                            next[t * h + o] = (float) s;
                        }
                    }
                    x = next;
                    current.clear();
                }

                @Override
                public void close() {}
            };
        }
    }

    @Test
    void wandaIsSequentialAndSkipsSilentExperts() throws Exception {
        Path inDir = TinyCheckpoints.builder("mixtral").layers(3).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        try (Checkpoint in = Checkpoint.open(inDir)) {
            ModelSpec spec = ModelSpec.of(in);
            ToyCalibration calib = new ToyCalibration(in, spec, List.of(3));
            SparsityReport r = UnstructuredPruner.run(in, spec, out, SparsityOptions.wanda(0.5), calib, CheckpointWriter.Options.defaults());
            assertEquals(1, calib.passes);
            try (Checkpoint pc = Checkpoint.open(out)) {
                // layer 1's Q is pruned with inputs from the pruned layer-0 Q, not the dense one
                int h = spec.hidden();
                float[] x0 = ToyCalibration.input(20, h, 1);
                float[] qPruned0 = pc.floats(spec.name(Role.Q, 0));
                float[] x1 = mul(x0, qPruned0, h);
                float[] expect = in.floats(spec.name(Role.Q, 1));
                WandaMask.pruneRows(expect, h, h, ActivationNorms.of(x1, h).scale(), 0.5);
                assertArrayEquals(expect, pc.floats(spec.name(Role.Q, 1)));
                float[] dense = in.floats(spec.name(Role.Q, 1));
                WandaMask.pruneRows(dense, h, h, ActivationNorms.of(mul(x0, in.floats(spec.name(Role.Q, 0)), h), h).scale(), 0.5);
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
                assertTrue(Files.isRegularFile(out.resolve(UnstructuredPruner.PROVENANCE)));
            }
            // nominal sparsity over all Linear weights: below 0.5 because expert 3 stayed dense
            long expertParams = 3L * spec.layer(0).expertFfn() * h(spec);
            double expected = 0.5 * (r.linearParams() - 3 * expertParams) / r.linearParams();
            assertEquals(expected, r.nominalSparsity(), 0.002);
        }
    }

    private static int h(ModelSpec s) {
        return s.hidden();
    }

    @Test
    void scopeSwitchesAndMagnitudeFallback() throws Exception {
        Path inDir = TinyCheckpoints.builder("qwen2_moe").layers(2).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        try (Checkpoint in = Checkpoint.open(inDir)) {
            ModelSpec spec = ModelSpec.of(in);
            SparsityOptions o = SparsityOptions.wanda(0.25).withScope(false, false).withEmptyExperts(EmptyExpertPolicy.MAGNITUDE);
            SparsityReport r = UnstructuredPruner.run(in, spec, out, o, new ToyCalibration(in, spec, List.of(0)), CheckpointWriter.Options.defaults());
            try (Checkpoint pc = Checkpoint.open(out)) {
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
    }

    @Test
    void owlGivesLayerwiseRatiosAroundTheTarget() throws Exception {
        Path inDir = TinyCheckpoints.builder("mixtral").layers(4).seed(2).write(tmp.resolve("in"));
        try (Checkpoint in = Checkpoint.open(inDir)) {
            ModelSpec spec = ModelSpec.of(in);
            ToyCalibration calib = new ToyCalibration(in, spec, List.of());
            SparsityReport r = UnstructuredPruner.run(in, spec, tmp.resolve("out"), SparsityOptions.owl(0.6), calib, CheckpointWriter.Options.defaults());
            assertEquals(2, calib.passes, "one dense pass for the outlier ratios, one pruning pass");
            double mean = r.layers().stream().mapToDouble(LayerSparsity::target).average().orElseThrow();
            assertEquals(0.6, mean, 1e-9);
            double span = r.layers().stream().mapToDouble(LayerSparsity::target).max().orElseThrow()
                    - r.layers().stream().mapToDouble(LayerSparsity::target).min().orElseThrow();
            assertEquals(0.16, span, 1e-9);
            for (LayerSparsity l : r.layers()) {
                assertTrue(l.target() >= 0.6 - 0.16 - 1e-9 && l.target() <= 0.6 + 0.16 + 1e-9);
                long zeros = 0;
                for (DecoderLinears.Linear lin : DecoderLinears.of(in, spec, l.layer())) {
                    zeros += (long) (int) (lin.in() * l.target()) * lin.out(); // floor(S_l * in) per row
                }
                assertEquals(zeros, l.zeros(), "layer " + l.layer());
            }
        }
    }

    @Test
    void twoFourOnEveryLinear() throws Exception {
        Path inDir = TinyCheckpoints.builder("mixtral").layers(2).write(tmp.resolve("in"));
        try (Checkpoint in = Checkpoint.open(inDir)) {
            ModelSpec spec = ModelSpec.of(in);
            SparsityReport r = UnstructuredPruner.run(in, spec, tmp.resolve("out"), SparsityOptions.nm(2, 4),
                    new ToyCalibration(in, spec, List.of()), CheckpointWriter.Options.defaults());
            assertEquals(0.5, r.nominalSparsity(), 1e-12);
        }
    }

    static float[] mul(float[] x, float[] w, int h) {
        float[] y = new float[x.length];
        for (int t = 0; t < x.length / h; t++) {
            for (int o = 0; o < h; o++) {
                double s = 0;
                for (int i = 0; i < h; i++) {
                    s += (double) w[o * h + i] * x[t * h + i];
                }
                y[t * h + o] = (float) s;
            }
        }
        return y;
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
