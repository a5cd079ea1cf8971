package dev.moekit.quantize.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GPTQ through DJL ({@link DeviceGptq}, here on DJL's CPU engine: the code that runs on {@code gpu:N}) against host
 * GPTQ ({@link Gptq}) on the same weight and Hessian: real mixtral-tiny weights with correlated activations, and
 * random ones; activation order, groups, per-channel grids, clip search and dead columns.
 */
class DeviceGptqTest {
    private static final Linalg LA = Linalg.nd4j();
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = Engines.newManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static float[] hessian(float[] x, int n, int cols) {
        try (Hessian h = new Hessian(cols, LA)) {
            h.addBatch(x, n);
            return h.matrix();
        }
    }

    /** {@code x} [n, cols] with the given input columns always zero (dead inputs). */
    private static float[] killColumns(float[] x, int n, int cols, int... dead) {
        float[] y = x.clone();
        for (int t = 0; t < n; t++) {
            for (int j : dead) {
                y[t * cols + j] = 0f;
            }
        }
        return y;
    }

    /** Compares one case; returns the share of codes that differ. */
    private static double compare(String what, TestWeights.Matrix m, float[] x, int n, Gptq.Params p) {
        float[] h = hessian(x, n, m.cols());
        Gptq.Result host = Gptq.quantize(m.w(), m.rows(), m.cols(), h, p, DType.BF16, LA);
        Gptq.Result dev = DeviceGptq.quantize(m.w(), m.rows(), m.cols(), h, p, DType.BF16, Device.cpu());
        QuantizedMatrix a = host.quantized();
        QuantizedMatrix b = dev.quantized();
        assertEquals(host.deadColumns(), dev.deadColumns(), what + ": dead columns");
        if (a.gIdx() == null) {
            assertEquals(null, b.gIdx(), what + ": g_idx only with activation order and groups");
        } else {
            assertArrayEquals(a.gIdx(), b.gIdx(), what + ": g_idx (the same stable permutation)");
        }
        int differ = 0;
        for (int i = 0; i < a.codes().length; i++) {
            differ += a.codes()[i] != b.codes()[i] ? 1 : 0;
        }
        double share = (double) differ / a.codes().length;
        double lossRel = Math.abs(host.loss() - dev.loss()) / host.loss();
        int t = Math.min(n, 256);
        double eh = TestWeights.outputError(m.w(), a.dequantize(), m.rows(), m.cols(), x, t);
        double ed = TestWeights.outputError(m.w(), b.dequantize(), m.rows(), m.cols(), x, t);
        double outRel = Math.abs(eh - ed) / eh;
        System.out.printf("device vs host GPTQ %s: codes differing %.5f%%, loss %.6g vs %.6g (rel %.2e), output error rel %.2e%n",
                what, 100 * share, host.loss(), dev.loss(), lossRel, outRel);
        assertTrue(lossRel < 1e-3, what + ": loss " + dev.loss() + " vs host " + host.loss());
        assertTrue(outRel < 1e-3, what + ": output error " + ed + " vs host " + eh);
        assertTrue(share < 1e-3, what + ": " + differ + " of " + a.codes().length + " codes differ");
        return share;
    }

    @Test
    void matchesHostGptqOnRealWeightsWithGroupsActOrderAndDeadColumns() {
        TestWeights.Matrix w1 = TestWeights.first(512, 256); // expert w1 [ffn, hidden]
        TestWeights.Matrix w2 = TestWeights.first(256, 512); // expert w2 [hidden, ffn]
        int n = 1024;
        float[] x1 = killColumns(TestWeights.correlatedInputs(n, 256, 5), n, 256, 3, 77, 200);
        float[] x2 = TestWeights.correlatedInputs(n, 512, 6);
        double total = 0;
        for (QuantScheme s : new QuantScheme[] {new QuantScheme(4, 128, true), new QuantScheme(3, 64, false), new QuantScheme(4, 0, true)}) {
            for (boolean act : new boolean[] {false, true}) {
                Gptq.Params p = Gptq.Params.defaults(s).withActOrder(act);
                total += compare("w1 " + s + " act=" + act + " (3 dead columns)", w1, x1, n, p);
                total += compare("w2 " + s + " act=" + act, w2, x2, n, p);
            }
        }
        // most codes agree exactly; the losses still differ in the last digits (the factors are summed differently)
        System.out.printf("mean share of differing codes: %.5f%%%n", 100 * total / 12);
    }

    @Test
    void matchesHostGptqWithClipSearch() {
        TestWeights.Matrix w1 = TestWeights.first(512, 256);
        int n = 1024;
        float[] x = killColumns(TestWeights.correlatedInputs(n, 256, 9), n, 256, 10);
        for (QuantScheme s : new QuantScheme[] {new QuantScheme(3, 64, true), new QuantScheme(3, 0, false)}) {
            for (boolean act : new boolean[] {false, true}) {
                Gptq.Params plain = Gptq.Params.defaults(s).withActOrder(act);
                compare("search " + s + " act=" + act, w1, x, n, new Gptq.Params(s, plain.dampPercent(), act, plain.blockSize(), true));
            }
        }
    }

    @Test
    void matchesHostGptqOnRandomWeightsWithRaggedBlocks() {
        Random r = new Random(42);
        int rows = 96;
        int cols = 200; // not a multiple of the 128-wide block nor of the 64-wide factor blocks
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        int n = 600;
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        TestWeights.Matrix m = new TestWeights.Matrix("random", w, rows, cols);
        compare("random 96x200 int4 g8 act", m, x, n, new Gptq.Params(new QuantScheme(4, 8, false), 0.01, true, 128));
        compare("random 96x200 int2 per channel", m, x, n, new Gptq.Params(new QuantScheme(2, 0, true), 0.01, false, 128));
    }

    @Test
    void aBatchOfExpertsGivesWhatEachGivesAlone() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        int rows = 128;
        int cols = 256;
        int n = 512;
        List<float[]> ws = new ArrayList<>();
        NDList hs = new NDList();
        List<float[]> hh = new ArrayList<>();
        for (int e = 0; e < 3; e++) {
            ws.add(java.util.Arrays.copyOfRange(m.w(), e * rows * cols, (e + 1) * rows * cols));
            float[] x = TestWeights.correlatedInputs(n, cols, 20 + e);
            hh.add(hessian(e == 1 ? killColumns(x, n, cols, 0, 1) : x, n, cols));
            hs.add(DeviceLinalg.upload(manager, hh.getLast(), cols, cols));
        }
        Gptq.Params p = Gptq.Params.defaults(new QuantScheme(4, 64, false)).withActOrder(true);
        List<Gptq.Result> batch;
        try (NDArray h = NDArrays.stack(hs)) {
            batch = DeviceGptq.quantize(ws, rows, cols, h, p, DType.F16);
        }
        hs.close();
        for (int e = 0; e < 3; e++) {
            Gptq.Result alone = DeviceGptq.quantize(ws.get(e), rows, cols, hh.get(e), p, DType.F16, Device.cpu());
            QuantizedMatrix a = alone.quantized();
            QuantizedMatrix b = batch.get(e).quantized();
            assertArrayEquals(a.codes(), b.codes(), "expert " + e + ": codes");
            assertArrayEquals(a.scales(), b.scales(), "expert " + e + ": scales");
            assertArrayEquals(a.zeros(), b.zeros(), "expert " + e + ": zeros");
            assertArrayEquals(a.gIdx(), b.gIdx(), "expert " + e + ": g_idx");
            assertEquals(alone.loss(), batch.get(e).loss(), 1e-9 * alone.loss(), "expert " + e + ": loss");
            assertEquals(e == 1 ? 2 : 0, batch.get(e).deadColumns());
        }
    }

    @Test
    void inverseCholeskyFactorMatchesTheHostOne() {
        int n = 150; // three factor blocks, the last ragged
        float[] x = TestWeights.correlatedInputs(400, n, 3);
        float[] h = hessian(x, 400, n);
        for (int j = 0; j < n; j++) {
            h[j * n + j] += 0.01f;
        }
        float[] host = LA.inverseCholeskyUpper(h, n);
        float[] dev;
        try (NDArray a = DeviceLinalg.upload(manager, h, 1, n, n); NDArray u = DeviceLinalg.inverseCholeskyUpper(a, DeviceLinalg.BLOCK)) {
            dev = u.toFloatArray();
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < n * n; i++) {
            num += (double) (host[i] - dev[i]) * (host[i] - dev[i]);
            den += (double) host[i] * host[i];
            if (i / n > i % n) {
                assertEquals(0f, dev[i], "strictly lower triangle is zero at " + i);
            }
        }
        System.out.printf("device vs host inverse Cholesky factor: relative Frobenius difference %.2e%n", Math.sqrt(num / den));
        assertTrue(Math.sqrt(num / den) < 1e-4, "relative difference " + Math.sqrt(num / den));
    }

    @Test
    void anIndefiniteHessianIsRefusedAsOnTheHost() {
        int n = 80;
        float[] h = new float[n * n];
        for (int j = 0; j < n; j++) {
            h[j * n + j] = 1f;
        }
        h[70 * n + 71] = 5f; // a 2x2 minor [[1, 5], [5, 1]]: eigenvalue -4, not cured by 1% damping
        h[71 * n + 70] = 5f;
        float[] w = new float[16 * n];
        Gptq.Params p = Gptq.Params.defaults(new QuantScheme(4, 16, true));
        assertThrows(Linalg.NotPositiveDefiniteException.class, () -> Gptq.quantize(w, 16, n, h, p, DType.F16, LA));
        Linalg.NotPositiveDefiniteException e = assertThrows(Linalg.NotPositiveDefiniteException.class,
                () -> DeviceGptq.quantize(w, 16, n, h, p, DType.F16, Device.cpu()));
        assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
    }

    @Test
    void autoRunsOnGpusOnly() {
        assertTrue(!GptqDevice.AUTO.onDevice(Device.cpu()) && GptqDevice.AUTO.onDevice(Device.gpu(0)) && !GptqDevice.AUTO.onDevice(null));
        assertTrue(GptqDevice.RUNTIME.onDevice(Device.cpu()) && !GptqDevice.HOST.onDevice(Device.gpu(1)));
        GptqQuantizer q = new GptqQuantizer();
        assertTrue(!q.runsOnDevice(GptqQuantizer.Parameters.defaults(), Device.cpu()) && q.runsOnDevice(GptqQuantizer.Parameters.defaults(), Device.gpu(0)));
    }

    @Test
    void deviceGramEqualsHostGram() {
        int cols = 96;
        Random r = new Random(1);
        for (DataType dt : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
            try (Hessian host = new Hessian(cols, LA); Hessian dev = Hessian.onDevice(cols, manager)) {
                for (int b = 0; b < 3; b++) {
                    int n = 50 + 17 * b;
                    float[] x = new float[n * cols];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = (float) (r.nextGaussian() * (1 + i % 7));
                    }
                    try (NDArray a = DeviceLinalg.upload(manager, x, n, cols); NDArray c = a.toType(dt, false)) {
                        float[] seen = c.toType(DataType.FLOAT32, false).toFloatArray(); // fp16 rounding, as the device holds them
                        host.addBatch(seen, n);
                        dev.addBatch(c, n);
                    }
                }
                assertEquals(host.rows(), dev.rows());
                float[] hm = host.matrix();
                float[] dm = dev.matrix();
                double max = 0;
                double diff = 0;
                for (int i = 0; i < hm.length; i++) {
                    max = Math.max(max, Math.abs(hm[i]));
                    diff = Math.max(diff, Math.abs(hm[i] - dm[i]));
                }
                System.out.printf("device vs host Gram (%s): max difference %.2e of max %.3g%n", dt, diff, max);
                assertTrue(diff <= 1e-5 * max, dt + ": device Gram differs by " + diff + " (max entry " + max + ")");
                assertArrayEquals(host.diagonal(), dev.diagonal(), (float) (1e-5 * max));
                try (NDArray back = dev.deviceMatrix(manager)) {
                    assertArrayEquals(dm, back.toFloatArray());
                }
            }
        }
    }

    @Test
    void paddingRowsZeroedByTheMaskAddNothing() {
        int cols = 32;
        Random r = new Random(2);
        float[] x = new float[40 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] padded = java.util.Arrays.copyOf(x, 48 * cols); // 8 zero rows of padding
        try (Hessian host = new Hessian(cols, LA); Hessian dev = Hessian.onDevice(cols, manager);
             NDArray a = DeviceLinalg.upload(manager, padded, 48, cols)) {
            host.addBatch(x, 40);
            dev.addBatch(a, 40);
            assertEquals(40, dev.rows());
            assertArrayEquals(host.matrix(), dev.matrix(), 1e-5f);
        }
    }
}
