package dev.moekit.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.eval.runtime.ForwardObserver;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The loss terms, the schedule, the data order and the test-split guard. */
class PartsTest {

    @Test
    void topKKlIsZeroForTheTeachersOwnLogitsAndMatchesTheFormula() {
        try (NDManager m = Engines.newManager(ai.djl.Device.cpu())) {
            float[] t = {3f, 1f, 0.5f, -1f};          // teacher logits over a vocabulary of 4, top-2: tokens 0 and 1
            NDArray teacher = m.create(t, new Shape(1, 1, 4));
            NDArray values = m.create(new float[] {3f, 1f}, new Shape(1, 1, 2));
            NDArray ids = m.create(new long[] {0, 1}, new Shape(1, 1, 2));
            assertEquals(0, Objective.topKKl(teacher, values, ids, 2.0, Losses.KdSupport.TOPK).getFloat(), 1e-7);
            NDArray student = m.create(new float[] {1f, 2f, 0f, 0f}, new Shape(1, 1, 4));
            double tau = 2;
            double p0 = 1 / (1 + Math.exp((1 - 3) / tau));
            double q0 = 1 / (1 + Math.exp((2 - 1) / tau));
            double want = tau * tau * (p0 * Math.log(p0 / q0) + (1 - p0) * Math.log((1 - p0) / (1 - q0)));
            assertEquals(want, Objective.topKKl(student, values, ids, tau, Losses.KdSupport.TOPK).getFloat(), 1e-5);
            double z = Math.exp(1 / tau) + Math.exp(2 / tau) + 2;                 // full support: softmax over all 4
            double wantFull = tau * tau * (p0 * Math.log(p0 / (Math.exp(1 / tau) / z)) + (1 - p0) * Math.log((1 - p0) / (Math.exp(2 / tau) / z)));
            assertEquals(wantFull, Objective.topKKl(student, values, ids, tau, Losses.KdSupport.FULL).getFloat(), 1e-5);
        }
    }

    @Test
    void balanceLossIsOneWhenRoutingIsUniformAndZLossIsLogESquaredAtZeroLogits() {
        try (NDManager m = Engines.newManager(ai.djl.Device.cpu())) {
            int n = 8;
            int e = 4;
            NDArray logits = m.zeros(new Shape(n, e));
            NDArray scores = logits.softmax(-1);
            long[] idx = new long[n * 2];
            for (int i = 0; i < n; i++) {
                idx[2 * i] = i % e;
                idx[2 * i + 1] = (i + 1) % e;
            }
            RouterLosses r = new RouterLosses(true, true);
            r.router(0, new ForwardObserver.RouterOutput(logits, scores, m.create(idx, new Shape(n, 2)), scores.get(":, :2")));
            assertEquals(2.0, r.balance().getFloat(), 1e-6, "E * sum f P with f = 2/E (top-2), P = 1/E");
            assertEquals(Math.pow(Math.log(e), 2), r.zLoss().getFloat(), 1e-5);
            assertEquals(DataType.FLOAT32, r.balance().getDataType());
        }
    }

    @Test
    void scheduleWarmsUpLinearlyThenDecaysByCosineToTheMinimum() {
        Optim o = new Optim(1e-3, 1e-4, 4, 0, 0.9, 0.95, 1e-8, 1);
        assertEquals(2.5e-4, o.lrAt(1, 20), 1e-12);
        assertEquals(1e-3, o.lrAt(4, 20), 1e-12);
        assertEquals(1e-3, o.lrAt(5, 20), 1e-12);
        assertEquals(1e-4, o.lrAt(20, 20), 1e-12);
        assertTrue(o.lrAt(12, 20) < 1e-3 && o.lrAt(12, 20) > 1e-4);
        assertThrows(IllegalArgumentException.class, () -> new Optim(1e-3, 1e-2, 0, 0, 0.9, 0.95, 1e-8, 1));
    }

    @Test
    void dataOrderIsAFreshPermutationPerEpochDeterminedBySeedAndPosition() {
        int[][] w = new int[5][3];
        for (int i = 0; i < 5; i++) {
            w[i] = new int[] {i, i, i};
        }
        TrainWindows a = TrainWindows.of(w, 42);
        TrainWindows b = TrainWindows.of(w, 42);
        int[] epoch0 = a.indices(0, 5);
        int[] epoch1 = a.indices(5, 5);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, Arrays.stream(epoch0).sorted().toArray());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, Arrays.stream(epoch1).sorted().toArray());
        assertNotEquals(Arrays.toString(epoch0), Arrays.toString(epoch1));
        assertArrayEquals(a.indices(3, 4), b.indices(3, 4), "position alone decides (a resumed run)");
        assertNotEquals(Arrays.toString(epoch0), Arrays.toString(TrainWindows.of(w, 43).indices(0, 5)));
    }

    @Test
    void testSplitsAreRefusedAndCalibrationTextIsPackedIntoFullWindows() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainWindows.load(
                new TrainData.TextFiles(List.of(Fixtures.data("misc.test.txt")), 64, 2), Fixtures.model("mixtral-tiny"), 0));
        assertTrue(e.getMessage().contains("misc.test.txt") && e.getMessage().contains("test split"), e.getMessage());
        TrainWindows.refuseTestSplit(Path.of("contest.txt"));
        assertThrows(IllegalArgumentException.class, () -> TrainWindows.refuseTestSplit(Path.of("code_test.jsonl")));
        TrainWindows w = TrainWindows.load(new TrainData.TextFiles(List.of(Fixtures.data("misc.valid.txt"),
                Fixtures.data("python.valid.txt")), 64, 3), Fixtures.model("mixtral-tiny"), 0);
        assertEquals(6, w.size());
        assertEquals(64, w.window());
        assertEquals(1, w.get(0)[0], "each file starts with bos, as the evaluation protocol");
        assertEquals(1, w.get(3)[0]);
    }
}
