package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.model.Role;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered {@link WeightQuantizer}: the method contract, plus on a real mixtral-tiny expert
 * matrix with a calibration Hessian of correlated inputs, codes stay on the grid, more bits give a smaller output
 * error at every step (8-bit below 4-bit below 3-bit below 2-bit), 4 bits stay close to the original, and without
 * calibration every method still quantizes (falling back, and saying so, where it needs data).
 */
public abstract class WeightQuantizerContract extends MethodContract<WeightQuantizer<?>> {
    private static final Linalg LA = Linalg.nd4j();

    @Override
    protected MethodKind<WeightQuantizer<?>> kind() {
        return WeightQuantizer.KIND;
    }

    private BoundQuantizer<?> bound(WeightQuantizer<?> q) {
        return BoundQuantizer.of(q, q.bind(sampleParams(q)));
    }

    private static LinearModule module(TestWeights.Matrix m) {
        return new LinearModule(LinearModule.moduleOf(m.name()), m.name(), Role.EXPERT_GATE, 0, 0, m.rows(), m.cols(), -1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void moreBitsGiveASmallerOutputErrorOnARealWeight(WeightQuantizer<?> q) {
        BoundQuantizer<?> b = bound(q);
        TestWeights.Matrix m = TestWeights.first(512, 256);
        LinearModule lm = module(m);
        int n = 1024;
        float[] x = TestWeights.correlatedInputs(n, m.cols(), 11);
        double norm = TestWeights.outputError(m.w(), new float[m.w().length], m.rows(), m.cols(), x, 256);
        try (Hessian h = new Hessian(m.cols(), LA)) {
            h.addBatch(x, n);
            double previous = Double.POSITIVE_INFINITY;
            for (int bits : new int[] {2, 3, 4, 8}) {
                QuantScheme s = new QuantScheme(bits, 128, true);
                b.check(s);
                WeightQuantizer.Result r = b.quantize(new WeightQuantizer.Input(lm, m.w(), s, h, DType.BF16, LA));
                QuantizedMatrix qm = r.quantized();
                assertNotNull(qm);
                assertEquals(s, qm.scheme());
                assertEquals(m.rows(), qm.rows());
                assertEquals(m.cols(), qm.cols());
                for (int i = 0; i < qm.rows(); i++) {
                    for (int j = 0; j < qm.cols(); j++) {
                        assertTrue(qm.code(i, j) <= s.maxq(), "codes on the grid");
                    }
                }
                assertEquals(q.name(), r.method(), "enough calibration: the method itself ran");
                assertNull(r.fallback(), "enough calibration: no fallback");
                double e = TestWeights.outputError(m.w(), qm.dequantize(), m.rows(), m.cols(), x, 256);
                assertTrue(e < previous, q.name() + ": " + bits + " bits error " + e + " not below the narrower width's " + previous);
                if (bits == 4) {
                    assertTrue(Math.sqrt(e / norm) < 0.25, q.name() + ": 4-bit relative output error " + Math.sqrt(e / norm));
                }
                previous = e;
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void quantizesWithoutCalibrationSayingWhyWhereItNeedsIt(WeightQuantizer<?> q) {
        BoundQuantizer<?> b = bound(q);
        TestWeights.Matrix m = TestWeights.first(512, 256);
        QuantScheme s = new QuantScheme(4, 128, true);
        WeightQuantizer.Result r = b.quantize(new WeightQuantizer.Input(module(m), m.w(), s, null, DType.BF16, LA));
        assertNotNull(r.quantized());
        assertFalse(r.method().isBlank());
        if (b.needsCalibration()) {
            assertNotNull(r.fallback(), q.name() + " needs calibration: the fallback has a reason");
        } else {
            assertNull(r.fallback());
            assertEquals(0, b.minCalibrationRows(), "a data-free method needs no calibration rows");
        }
    }
}
