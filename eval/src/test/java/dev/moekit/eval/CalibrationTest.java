package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.Pass;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.model.Role;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The calibration pipeline on the reference MoE checkpoints, with calibration text from the valid split. */
class CalibrationTest {
    static final CalibrationOptions OPTIONS = new CalibrationOptions(
            List.of(Goldens.data("python.valid.txt"), Goldens.data("misc.valid.txt")), 64, 2, false, false, 20);

    /** Records what the hooks see on one layer. */
    static class Recorder implements CalibrationObserver {
        final int layer;
        long routedRows;
        long expertUpRows;
        long expertDownCols;
        long queryRows;
        final Map<Integer, Long> rowsPerExpert = new HashMap<>();
        int layerDoneCalls;
        float[] layerInput;

        Recorder(int layer) {
            this.layer = layer;
        }

        @Override
        public boolean observes(int l) {
            return l == layer;
        }

        @Override
        public Set<Role> linearInputs() {
            return Set.of(Role.Q, Role.EXPERT_UP, Role.EXPERT_DOWN);
        }

        @Override
        public void layerInput(int l, NDArray hidden) {
            float[] h = hidden.toFloatArray();
            layerInput = layerInput == null ? h : concat(layerInput, h);
        }

        @Override
        public void expert(int l, int e, NDArray tokens, NDArray input, NDArray output) {
            assertEquals(input.getShape(), output.getShape());
            assertEquals(tokens.getShape().get(0), input.getShape().get(0));
            routedRows += input.getShape().get(0);
            rowsPerExpert.merge(e, input.getShape().get(0), Long::sum);
        }

        @Override
        public void linearInput(int l, Role role, int expert, NDArray input) {
            switch (role) {
                case Q -> queryRows += input.getShape().get(0);
                case EXPERT_UP -> expertUpRows += input.getShape().get(0);
                case EXPERT_DOWN -> expertDownCols = input.getShape().get(1);
                default -> throw new AssertionError("unrequested role " + role);
            }
        }

        @Override
        public void layerDone(int l, LayerWeights w) {
            layerDoneCalls++;
        }
    }

    @Test
    void hooksSeeRoutedTokensPerExpertAndCoverageCountsEveryChoice() {
        try (CausalLm lm = CausalLm.open(Goldens.model("mixtral-tiny"), RuntimeOptions.cpu().withBatchSize(3))) {
            List<TokenBatch> batches = Calibration.batches(Goldens.model("mixtral-tiny"), OPTIONS, 3);
            assertEquals(2, batches.size());                                      // 4 windows in batches of 3
            Recorder rec = new Recorder(2);
            CoverageReport cov = Calibration.run(lm, batches, OPTIONS, rec, Progress.NONE);
            long tokens = 4 * 64;
            assertEquals(tokens, rec.queryRows);
            assertEquals(tokens * 2, rec.routedRows, "top-2: each token reaches two experts");
            assertEquals(rec.routedRows, rec.expertUpRows);
            assertEquals(512, rec.expertDownCols, "down_proj input is the expert FFN width");
            assertEquals(1, rec.layerDoneCalls);
            assertEquals(6, cov.layers().size());
            LayerRouting l2 = cov.layers().get(2);
            for (int e = 0; e < 8; e++) {
                assertEquals(rec.rowsPerExpert.getOrDefault(e, 0L), l2.counts()[e], "expert " + e);
            }
            assertEquals(cov.flaggedCount(), cov.layers().stream()
                    .mapToLong(l -> Arrays.stream(l.counts()).filter(c -> c < 20).count()).sum());
            assertTrue(cov.table().contains("layer  2"));

            Recorder all = new Recorder(2);
            Calibration.run(lm, batches, OPTIONS.withAllExperts(true), all, Progress.NONE);
            assertEquals(tokens * 8, all.routedRows, "every token through every expert");
            assertArrayEquals(rec.layerInput, all.layerInput, 1e-5f, "layer inputs keep the real routing");
        }
    }

    @Test
    void sequentialModeFeedsEditedLayersIntoTheNextLayer() {
        try (CausalLm lm = CausalLm.open(Goldens.model("qwen2moe-tiny"), RuntimeOptions.cpu())) {
            List<TokenBatch> batches = Calibration.batches(Goldens.model("qwen2moe-tiny"), OPTIONS, 4);
            Recorder before = new Recorder(1);
            Calibration.run(lm, batches, OPTIONS, before, Progress.NONE);

            Recorder after = new Recorder(1) {
                @Override
                public boolean observes(int l) {
                    return l <= 1;
                }

                @Override
                public void layerDone(int l, LayerWeights w) {
                    if (l == 0) {                                 // silence every routed expert of layer 0
                        for (int e = 0; e < w.spec().experts(); e++) {
                            w.replace(Role.EXPERT_DOWN, e, new float[w.floats(Role.EXPERT_DOWN, e).length]);
                        }
                    }
                }

                @Override
                public void layerInput(int l, NDArray hidden) {
                    if (l == 1) {
                        super.layerInput(l, hidden);
                    }
                }
            };
            Calibration.run(lm, batches, OPTIONS.withSequential(true), after, Progress.NONE);
            assertFalse(Arrays.equals(before.layerInput, after.layerInput), "the edit changed layer 1's inputs");

            Recorder replay = new Recorder(1);                    // the resident model now holds the edited layer 0
            try (Pass pass = lm.begin(batches)) {
                pass.runAll(replay);
            }
            assertArrayEquals(replay.layerInput, after.layerInput, 1e-6f);
        }
    }

    @Test
    void layerwiseCalibrationMatchesResident() {
        Recorder resident = new Recorder(4);
        Recorder layerwise = new Recorder(4);
        for (boolean lw : new boolean[] {false, true}) {
            try (CausalLm lm = CausalLm.open(Goldens.model("mixtral-tiny"), RuntimeOptions.cpu().withLayerwise(lw))) {
                List<TokenBatch> batches = Calibration.batches(Goldens.model("mixtral-tiny"), OPTIONS, 2);
                Calibration.run(lm, batches, OPTIONS, lw ? layerwise : resident, Progress.NONE);
            }
        }
        assertArrayEquals(resident.layerInput, layerwise.layerInput, 1e-6f);
        assertEquals(resident.rowsPerExpert, layerwise.rowsPerExpert);
    }

    static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }


    @Test
    void aPassSplitOverSavedHiddenStatesSeesWhatOnePassSees(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        try (CausalLm lm = CausalLm.open(Goldens.model("mixtral-tiny"), RuntimeOptions.cpu().withBatchSize(3))) {
            List<TokenBatch> batches = Calibration.batches(Goldens.model("mixtral-tiny"), OPTIONS, 3);
            Recorder whole = new Recorder(4);
            CoverageReport all = Calibration.run(lm, batches, OPTIONS, whole, Progress.NONE);
            // layers 0-2 in one "process", 3-5 in another, through the file the first range leaves
            Recorder first = new Recorder(4);
            Recorder second = new Recorder(4);
            java.nio.file.Path h = tmp.resolve("hidden.bin");
            CoverageReport a = Calibration.runLayers(lm, batches, OPTIONS, first, Progress.NONE, 0, 3, null, h);
            CoverageReport b = Calibration.runLayers(lm, batches, OPTIONS, second, Progress.NONE, 3, 6, h, null);
            assertEquals(null, first.layerInput);
            assertArrayEquals(whole.layerInput, second.layerInput, "layer 4 sees the same hidden states");
            assertEquals(whole.rowsPerExpert, second.rowsPerExpert);
            assertEquals(3, a.layers().size());
            for (int l = 0; l < 6; l++) {
                LayerRouting r = (l < 3 ? a : b).layers().get(l % 3);
                assertEquals(l, r.layer());
                assertArrayEquals(all.layers().get(l).counts(), r.counts(), "coverage of layer " + l);
            }
            // the original model's inputs of layer 4, saved by one pass, then layer 4 observed alone
            Calibration.saveInputs(lm, batches, List.of(4), l -> tmp.resolve("in-" + l), Progress.NONE);
            Recorder alone = new Recorder(4);
            Calibration.observeLayer(lm, batches, OPTIONS, alone, 4, tmp.resolve("in-4"));
            assertArrayEquals(whole.layerInput, alone.layerInput);
            assertEquals(1, alone.layerDoneCalls);
            // a file of another layer is refused, naming it
            java.io.UncheckedIOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.UncheckedIOException.class,
                    () -> Calibration.runLayers(lm, batches, OPTIONS, new Recorder(4), Progress.NONE, 2, 6, h, null));
            assertTrue(e.getMessage().contains("holds the inputs of layer 3") && e.getMessage().contains("expected layer 2"), e.getMessage());
        }
    }
}
