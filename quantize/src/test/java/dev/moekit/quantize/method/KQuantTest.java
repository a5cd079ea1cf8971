package dev.moekit.quantize.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.List;
import org.junit.jupiter.api.Test;

/** k-quant schemes (quantized sub-block scales in 256-weight super-blocks) in RTN and GPTQ, on mixtral-tiny's weights. */
class KQuantTest {
    private static final List<String> K_TYPES = List.of("q2_k", "q3_k", "q4_k", "q5_k", "q6_k");

    @Test
    void scalesAndMinimumsAreFp16SuperScalesTimesSmallIntegers() {
        TestWeights.Matrix m = TestWeights.first(256, 512); // an expert w2: two super-blocks a row
        for (String t : K_TYPES) {
            QuantScheme s = QuantScheme.parse("k", t);
            for (boolean search : new boolean[] {false, true}) {
                for (int row : new int[] {0, 77, 255}) {
                    for (int sb = 0; sb < 2; sb++) {
                        KGrid.Block b = KGrid.find(m.w(), row * m.cols() + sb * 256, s, null, sb * 256, search);
                        assertEquals(b.d(), fp16(b.d()), 0f, t + ": d is an fp16 value");
                        assertTrue(b.d() > 0, t + ": d > 0");
                        for (int g = 0; g < 256 / s.groupSize(); g++) {
                            int sc = b.scaleCodes()[g];
                            assertTrue(sc >= 0 && sc <= s.maxScaleCode(), t + ": scale code " + sc + " in 0.." + s.maxScaleCode());
                            assertEquals(b.d() * sc, b.scales()[g], 0f, t + ": scale = d * code exactly");
                            if (s.hasMins()) {
                                assertEquals(b.dmin(), fp16(b.dmin()), 0f, t + ": dmin is an fp16 value");
                                int mc = b.minCodes()[g];
                                assertTrue(mc >= 0 && mc <= s.maxScaleCode(), t + ": minimum code " + mc);
                                assertEquals(b.dmin() * mc, b.mins()[g], 0f, t + ": min = dmin * code exactly");
                            } else {
                                assertEquals(1 << (s.bits() - 1), b.zeros()[g], t + ": symmetric zero point is the middle code");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void rtnValuesAreTheGridsValuesAndTheNearestOnIt() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        for (String t : K_TYPES) {
            QuantScheme s = QuantScheme.parse("k", t);
            QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16);
            assertEquals(s.hasMins(), q.mins() != null, t);
            float[] d = q.dequantize();
            for (int i = 0; i < m.rows(); i += 37) {
                KGrid.Block b = KGrid.find(m.w(), i * m.cols(), s, null, 0, false);
                for (int j = 0; j < m.cols(); j++) {
                    int g = q.group(j);
                    float scale = q.scale(i, g);
                    assertEquals(b.scales()[g], scale, 0f, t + ": Rtn's scale is the block's");
                    int code = q.code(i, j);
                    float v = s.hasMins() ? QuantizedMatrix.dequantMin(scale, code, q.min(i, g)) : QuantizedMatrix.dequant(scale, code, q.zero(i, g));
                    assertEquals(v, d[i * m.cols() + j], 0f, t + ": value from code, scale and minimum");
                    float w = m.w()[i * m.cols() + j];
                    for (int other = 0; other <= s.maxq(); other++) { // rounding to nearest: no other code is closer
                        float o = s.hasMins() ? QuantizedMatrix.dequantMin(scale, other, q.min(i, g)) : QuantizedMatrix.dequant(scale, other, q.zero(i, g));
                        assertTrue(Math.abs(w - v) <= Math.abs(w - o) + 1e-6f * Math.abs(scale), t + ": code " + code + " vs " + other + " at " + i + "," + j);
                    }
                }
            }
        }
    }

    @Test
    void quantizedSmallGroupsBeatFloatLargeOnesAtFewerBits() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        // q2_k costs 2.625 bits a weight; int2/g32/asym with bf16 scale and zero costs 3 (compressed-tensors)
        double q2k = mse(m, QuantScheme.parse("k", "q2_k"), false);
        double g32 = mse(m, new QuantScheme(2, 32, false), false);
        System.out.printf("mse q2_k %.4g, int2/g32/asym %.4g%n", q2k, g32);
        assertTrue(q2k < 0.8 * g32, "q2_k " + q2k + " should beat int2/g32/asym " + g32);
        double q4k = mse(m, QuantScheme.parse("k", "q4_k"), false);
        double g128 = mse(m, new QuantScheme(4, 128, true), false);
        assertTrue(q4k < 0.6 * g128, "q4_k (4.5 bits) " + q4k + " vs int4/g128/sym (4.13 bits) " + g128);
        for (String t : K_TYPES) { // the searches (stretched ranges, least-squares fits, retried d) never lose
            QuantScheme s = QuantScheme.parse("k", t);
            double plain = mse(m, s, false);
            double searched = mse(m, s, true);
            System.out.printf("%s mse plain %.4g searched %.4g%n", t, plain, searched);
            assertTrue(searched < plain, t + ": searched " + searched + " vs plain " + plain);
        }
    }

    @Test
    void importanceWeightingLowersTheWeightedError() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        float[] imp = new float[m.cols()];
        java.util.Random r = new java.util.Random(3);
        for (int j = 0; j < imp.length; j++) {
            imp[j] = (float) Math.exp(2 * r.nextGaussian()); // outlier channels, as E[x^2] has
        }
        for (String t : List.of("q2_k", "q3_k", "q4_k")) {
            QuantScheme s = QuantScheme.parse("k", t);
            double plain = weighted(m, Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, true, null).dequantize(), imp);
            double weightedSearch = weighted(m, Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, true, imp).dequantize(), imp);
            assertTrue(weightedSearch < 0.97 * plain, t + ": importance-weighted " + weightedSearch + " vs unweighted " + plain);
        }
    }

    @Test
    void gptqOnKGridsBeatsRtnOnTheOutput() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        int n = 1024;
        float[] x = TestWeights.correlatedInputs(n, m.cols(), 5);
        Linalg la = Linalg.nd4j();
        float[] h = TestWeights.hessian(x, n, m.cols(), la);
        for (String t : List.of("q2_k", "q3_k", "q4_k")) {
            QuantScheme s = QuantScheme.parse("k", t);
            Gptq.Result g = Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(s), DType.BF16, la);
            assertEquals(s, g.quantized().scheme());
            double eg = TestWeights.outputError(m.w(), g.quantized().dequantize(), m.rows(), m.cols(), x, 256);
            double er = TestWeights.outputError(m.w(), Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16).dequantize(), m.rows(), m.cols(), x, 256);
            System.out.printf("GPTQ/RTN output error %s: %.3f%n", t, eg / er);
            assertTrue(eg < 0.85 * er, t + ": GPTQ output error " + eg + " should beat RTN " + er);
        }
        QuantScheme q4k = QuantScheme.parse("k", "q4_k");
        assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(q4k).withActOrder(true), DType.BF16, la),
                "activation order would scatter a super-block's columns");
    }

    @Test
    void matricesRefuseMinimumsTheSchemeDoesNotHave() {
        QuantScheme q4k = QuantScheme.parse("k", "q4_k");
        byte[] codes = new byte[256];
        assertThrows(IllegalArgumentException.class, () -> new QuantizedMatrix(1, 256, q4k, codes, new float[8], new byte[8], null),
                "an asymmetric k-grid needs its minimums");
        assertThrows(IllegalArgumentException.class,
                () -> new QuantizedMatrix(1, 256, new QuantScheme(4, 32, false), codes, new float[8], new byte[8], null, new float[8]),
                "integer zero points and minimums do not mix");
        assertThrows(IllegalArgumentException.class, () -> new QuantizedMatrix(1, 128, q4k, new byte[128], new float[4], new byte[4], null, new float[4]),
                "a row of half a super-block");
        float[] mins = {0.5f, 0, 0, 0, 0, 0, 0, 0};
        float[] scales = {0.25f, 1, 1, 1, 1, 1, 1, 1};
        codes[0] = 3;
        float[] v = new QuantizedMatrix(1, 256, q4k, codes, scales, new byte[8], null, mins).dequantize();
        assertArrayEquals(new float[] {0.25f}, new float[] {v[0]}, "0.25 * 3 - 0.5");
    }

    private static float fp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    private static double mse(TestWeights.Matrix m, QuantScheme s, boolean search) {
        return weighted(m, Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, search, null).dequantize(), null);
    }

    private static double weighted(TestWeights.Matrix m, float[] q, float[] imp) {
        double e = 0;
        for (int i = 0; i < m.rows(); i++) {
            for (int j = 0; j < m.cols(); j++) {
                double d = m.w()[i * m.cols() + j] - q[i * m.cols() + j];
                e += (imp == null ? 1 : imp[j]) * d * d;
            }
        }
        return e / m.w().length;
    }
}
