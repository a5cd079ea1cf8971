package dev.moekit.prune.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.expert.BoundPruner;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruneReport;
import dev.moekit.prune.expert.ExpertPruning;
import dev.moekit.prune.sparse.BoundSparsifier;
import dev.moekit.prune.sparse.LinearKey;
import dev.moekit.prune.sparse.SparsityOptions;
import dev.moekit.prune.sparse.SparsityReport;
import dev.moekit.prune.sparse.UnstructuredPruner;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.prune.stats.MoeBlockSamples;
import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Calibration collectors on the eval runtime (CPU, fp32) over the shared reference MoE checkpoints. */
class RuntimeCalibrationTest {
    @TempDir
    Path tmp;

    private static long[] longs(SafetensorsFile f, String name) {
        try (Arena a = Arena.ofConfined()) {
            return f.map(name, a).toArray(ValueLayout.JAVA_LONG_UNALIGNED);
        }
    }

    private static float[] floats(SafetensorsFile f, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = f.map(name, a);
            return s.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
        }
    }

    /** Routing statistics equal those recomputed from the golden HF router logits on the golden probe batch. */
    @ParameterizedTest
    @ValueSource(strings = {"mixtral-tiny", "qwen2moe-tiny"})
    void routingStatsMatchGoldenRouterLogits(String model) {
        Path dir = RefModels.model(model);
        try (Checkpoint c = Checkpoint.open(dir); SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden/logits.safetensors"));
             CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            ModelSpec spec = lm.spec();
            long[] ids = longs(g, "input_ids");
            long[] mask = longs(g, "attention_mask");
            int rows = (int) g.info("input_ids").dim(0);
            int len = (int) g.info("input_ids").dim(1);
            int[] id = new int[ids.length];
            int[] m = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                id[i] = (int) ids[i];
                m[i] = (int) mask[i];
            }
            StatsSource stats = RuntimeStats.collect(lm, List.of(new TokenBatch(id, m, rows, len)), options("python", 8, 1), 0,
                    Progress.NONE).stats();
            for (int l = 0; l < spec.layers(); l++) {
                int e = spec.layer(l).experts();
                int k = spec.layer(l).topK();
                float[] logits = floats(g, "router_logits." + l);
                RoutingStats.Accumulator expected = RoutingStats.accumulator(l, e, k);
                for (int t = 0; t < ids.length; t++) {
                    if (mask[t] == 0) {
                        continue;
                    }
                    double[] lg = new double[e];
                    for (int j = 0; j < e; j++) {
                        lg[j] = logits[t * e + j];
                    }
                    var r = GoldenRouting.route(lg, spec, k);
                    expected.add(r.experts(), r.gates(), null);
                }
                RoutingStats want = expected.build();
                RoutingStats got = stats.routing(l);
                assertEquals(want.tokens(), got.tokens());
                long diff = 0;
                for (int j = 0; j < e; j++) {
                    diff += Math.abs(want.count(j) - got.count(j));
                    assertEquals(want.gateSums()[j], got.gateSums()[j], 2e-3 * (1 + want.gateSums()[j]), model + " layer " + l + " expert " + j);
                }
                assertTrue(diff <= 2, model + " layer " + l + ": routing counts differ by " + diff);
                assertTrue(got.hasOutputNorms());
                for (int j = 0; j < e; j++) {
                    assertEquals(got.count(j) > 0, got.outputNormSums()[j] > 0);
                }
            }
        }
    }

    /** Per-Linear input statistics of every layer, as Wanda reads them; optionally silences layer 0's attention. */
    static final class Recorder implements CalibrationObserver {
        final Map<Integer, Map<LinearKey, ActivationNorms.Builder>> sums = new HashMap<>();
        final boolean silenceLayer0;

        Recorder(boolean silenceLayer0) {
            this.silenceLayer0 = silenceLayer0;
        }

        @Override
        public Set<Role> linearInputs() {
            return Set.of(Role.Q, Role.EXPERT_GATE);
        }

        @Override
        public void linearInput(int layer, Role role, int expert, NDArray input) {
            long rows = input.getShape().get(0);
            float[] s = input.toType(DataType.FLOAT32, false).square().sum(new int[] {0}).toFloatArray();
            sums.computeIfAbsent(layer, l -> new HashMap<>()).computeIfAbsent(new LinearKey(role, expert),
                    k -> new ActivationNorms.Builder(s.length)).addSums(s, rows);
        }

        @Override
        public void layerDone(int layer, LayerWeights weights) {
            if (layer == 0 && silenceLayer0) {
                weights.replace(Role.O, -1, new float[(int) weights.get(Role.O).size()]);   // attention of layer 0 now outputs nothing
            }
        }

        ActivationNorms get(int layer, LinearKey k) {
            ActivationNorms.Builder b = sums.getOrDefault(layer, Map.of()).get(k);
            return b == null ? null : b.build();
        }
    }

    /** Sequential calibration (eval's, as Wanda/OWL use it): an edited layer changes the statistics the next layer sees. */
    @Test
    void sequentialPassSeesEditedLayers() {
        Path dir = RefModels.model("mixtral-tiny");
        try (Checkpoint c = Checkpoint.open(dir); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            CalibrationOptions co = options("python", 32, 2);
            List<TokenBatch> batches = Calibration.batches(dir, co, 2);
            CalibratedModel cm = new CalibratedModel(lm, batches, co, Progress.NONE);
            Recorder dense = new Recorder(false);
            cm.run(dense, true, false);
            assertEquals(64, dense.get(0, LinearKey.of(Role.Q)).tokens());
            long routed = 0;
            for (int e = 0; e < 8; e++) {
                ActivationNorms a = dense.get(0, new LinearKey(Role.EXPERT_GATE, e));
                routed += a == null ? 0 : a.tokens();
            }
            assertEquals(64 * 2, routed, "top-2: every token reaches two experts");
            Recorder edited = new Recorder(true);
            cm.run(edited, true, false);
            assertTrue(java.util.Arrays.equals(dense.get(0, LinearKey.of(Role.Q)).sumSquares(), edited.get(0, LinearKey.of(Role.Q)).sumSquares()),
                    "layer 0 is observed before its edit");
            assertFalse(java.util.Arrays.equals(dense.get(1, LinearKey.of(Role.Q)).sumSquares(), edited.get(1, LinearKey.of(Role.Q)).sumSquares()));
        }
    }

    @Test
    void wandaWithRuntimeCalibrationAndReapWithRuntimeStats() {
        Path dir = RefModels.model("mixtral-tiny");
        try (Checkpoint c = Checkpoint.open(dir); CausalLm lm = CausalLm.of(c, ModelSpec.of(c), RuntimeOptions.cpu())) {
            ModelSpec spec = lm.spec();
            CalibrationOptions co = options("kernel", 64, 2);
            List<TokenBatch> batches = Calibration.batches(dir, co, 2);
            CalibratedModel cm = new CalibratedModel(lm, batches, co, Progress.NONE);
            Path out = tmp.resolve("wanda");
            SparsityReport r = UnstructuredPruner.run(c, spec, out, BoundSparsifier.of("wanda", null), SparsityOptions.of(0.5), cm,
                    CheckpointWriter.Options.defaults());
            try (Checkpoint pc = Checkpoint.open(out)) {
                assertEquals(List.of(), SpecChecker.check(pc, ModelSpec.of(pc)));
            }
            long skippedParams = r.layers().stream().mapToLong(l -> l.skipped().size()).sum() * 256L * 512;
            assertEquals(0.5 * (r.linearParams() - skippedParams) / r.linearParams(), r.nominalSparsity(), 1e-3);

            RuntimeStats.Result collected = RuntimeStats.collect(cm, 64);
            StatsSource stats = collected.stats();
            for (String m : List.of("reap", "naee", "frequency")) {
                Path po = tmp.resolve(m);
                ExpertPruneReport er = ExpertPruning.run(c, spec, po, BoundPruner.of(m, null), ExpertPruneOptions.keep(6), stats,
                        CheckpointWriter.Options.defaults());
                assertEquals(36, er.expertsAfter());
                try (Checkpoint pc = Checkpoint.open(po)) {
                    assertEquals(List.of(), SpecChecker.check(pc, ModelSpec.of(pc)));
                }
                for (var lr : er.layers()) {
                    RoutingStats rs = stats.routing(lr.layer());
                    double[] want = new double[8];
                    for (int j = 0; j < 8; j++) {
                        // frequency: routed tokens; REAP: mean over routed tokens of renormalised gate x output norm
                        want[j] = m.equals("frequency") ? rs.count(j) : rs.count(j) == 0 ? 0 : rs.reapSums()[j] / rs.count(j);
                    }
                    int[] kept = lr.keptIndices();
                    if (m.equals("naee")) {
                        double[] loss = blockLosses(c, spec, lr.layer(), stats.blockSamples(lr.layer()));
                        double best = java.util.Arrays.stream(loss).filter(v -> !Double.isNaN(v)).min().orElseThrow();
                        assertEquals(best, loss[mask(kept)], 1e-6 * best, "layer " + lr.layer() + ": NAEE keeps the set of least block error");
                        continue;
                    }
                    assertArrayEquals(want, lr.scores(), 1e-9 * (1 + java.util.Arrays.stream(want).max().orElse(0)), m + " scores");
                    double keptMin = java.util.Arrays.stream(kept).mapToDouble(j -> want[j]).min().orElseThrow();
                    for (int j = 0; j < 8; j++) {
                        int jj = j;
                        if (java.util.Arrays.stream(kept).noneMatch(k -> k == jj)) {
                            assertTrue(want[j] <= keptMin, m + " layer " + lr.layer() + " removed expert " + j + " scoring above a kept one");
                        }
                    }
                }
            }
        }
    }

    private static int mask(int[] kept) {
        int m = 0;
        for (int k : kept) {
            m |= 1 << k;
        }
        return m;
    }

    /**
     * Independent brute force of NAEE's criterion on a Mixtral layer: for every kept set of 6 of 8 experts (indexed by
     * its bit mask), ||Z - Z'||_F over the cached block inputs, Z the block with all experts, Z' with the router rows of
     * the others removed (softmax over the kept, top-2, renormalised). Other masks stay NaN.
     */
    private static double[] blockLosses(Checkpoint c, ModelSpec spec, int layer, MoeBlockSamples s) {
        int h = spec.hidden();
        int e = 8;
        float[] router = c.floats(spec.name(Role.ROUTER, layer));
        float[][] w1 = new float[e][];
        float[][] w3 = new float[e][];
        float[][] w2 = new float[e][];
        for (int j = 0; j < e; j++) {
            w1[j] = c.floats(spec.name(Role.EXPERT_GATE, layer, j));
            w3[j] = c.floats(spec.name(Role.EXPERT_UP, layer, j));
            w2[j] = c.floats(spec.name(Role.EXPERT_DOWN, layer, j));
        }
        int ffn = w1[0].length / h;
        double[] sq = new double[1 << e];
        java.util.Arrays.fill(sq, Double.NaN);
        for (int m = 0; m < sq.length; m++) {
            if (Integer.bitCount(m) == 6) {
                sq[m] = 0;
            }
        }
        float[] x = s.inputs();
        for (int t = 0; t < s.tokens(); t++) {
            double[] logit = new double[e];
            double[][] f = new double[e][h];
            for (int j = 0; j < e; j++) {
                for (int i = 0; i < h; i++) {
                    logit[j] += (double) router[j * h + i] * x[t * h + i];
                }
                double[] act = new double[ffn];
                for (int r = 0; r < ffn; r++) {
                    double g = 0;
                    double u = 0;
                    for (int i = 0; i < h; i++) {
                        g += (double) w1[j][r * h + i] * x[t * h + i];
                        u += (double) w3[j][r * h + i] * x[t * h + i];
                    }
                    act[r] = g / (1 + Math.exp(-g)) * u;
                }
                for (int o = 0; o < h; o++) {
                    double y = 0;
                    for (int r = 0; r < ffn; r++) {
                        y += w2[j][o * ffn + r] * act[r];
                    }
                    f[j][o] = y;
                }
            }
            double[] full = combine(logit, f, (1 << e) - 1);
            for (int m = 0; m < sq.length; m++) {
                if (!Double.isNaN(sq[m])) {
                    double[] part = combine(logit, f, m);
                    for (int o = 0; o < h; o++) {
                        sq[m] += (full[o] - part[o]) * (full[o] - part[o]);
                    }
                }
            }
        }
        for (int m = 0; m < sq.length; m++) {
            sq[m] = Math.sqrt(sq[m]);
        }
        return sq;
    }

    /** Top-2 of the experts in {@code mask} by logit, gates renormalised over the two (Mixtral). */
    private static double[] combine(double[] logit, double[][] f, int mask) {
        int a = -1;
        int b = -1;
        for (int j = 0; j < logit.length; j++) {
            if ((mask & 1 << j) == 0) {
                continue;
            }
            if (a < 0 || logit[j] > logit[a]) {
                b = a;
                a = j;
            } else if (b < 0 || logit[j] > logit[b]) {
                b = j;
            }
        }
        double ga = 1 / (1 + Math.exp(logit[b] - logit[a]));
        double[] z = new double[f[0].length];
        for (int o = 0; o < z.length; o++) {
            z[o] = ga * f[a][o] + (1 - ga) * f[b][o];
        }
        return z;
    }

    private static CalibrationOptions options(String domain, int window, int perFile) {
        return new CalibrationOptions(List.of(RefModels.shared().resolve("data/" + domain + ".valid.txt")), window, perFile, false, false, 1);
    }

    /** Family routing replayed on golden logits (softmax, top-k, optional renormalisation). */
    static final class GoldenRouting {
        record Route(int[] experts, double[] gates) {}

        static Route route(double[] logits, ModelSpec spec, int k) {
            int e = logits.length;
            double max = java.util.Arrays.stream(logits).max().orElseThrow();
            double[] p = new double[e];
            double sum = 0;
            for (int j = 0; j < e; j++) {
                p[j] = Math.exp(logits[j] - max);
                sum += p[j];
            }
            int[] chosen = new int[k];
            boolean[] used = new boolean[e];
            double gs = 0;
            for (int a = 0; a < k; a++) {
                int best = -1;
                for (int j = 0; j < e; j++) {
                    if (!used[j] && (best < 0 || p[j] > p[best])) {
                        best = j;
                    }
                }
                used[best] = true;
                chosen[a] = best;
                gs += p[best] / sum;
            }
            double[] g = new double[k];
            for (int a = 0; a < k; a++) {
                g[a] = p[chosen[a]] / sum / (spec.routing().renormalize() ? gs : 1);
            }
            return new Route(chosen, g);
        }
    }
}
