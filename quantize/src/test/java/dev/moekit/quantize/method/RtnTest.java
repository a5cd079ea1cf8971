package dev.moekit.quantize.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.Grid;
import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.DType;
import org.junit.jupiter.api.Test;

class RtnTest {
    private static final int[] BITS = {2, 3, 4, 8};
    private static final int[] GROUPS = {0, 32, 64, 128};

    @Test
    void everyValueLiesOnItsGroupGridWithinHalfAStep() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        for (int bits : BITS) {
            for (int gs : GROUPS) {
                for (boolean sym : new boolean[] {true, false}) {
                    QuantScheme s = new QuantScheme(bits, gs, sym);
                    QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32);
                    float[] d = q.dequantize();
                    for (int i = 0; i < m.rows(); i++) {
                        for (int j = 0; j < m.cols(); j++) {
                            int g = q.group(j);
                            int code = q.code(i, j);
                            assertTrue(code >= 0 && code <= s.maxq(), "code in range");
                            if (sym) {
                                assertEquals(1 << (bits - 1), q.zero(i, g), "symmetric zero point is the middle code");
                            }
                            float scale = q.scale(i, g);
                            assertEquals(scale * (code - q.zero(i, g)), d[i * m.cols() + j], 0f, "value = scale * (q - zero)");
                            float err = Math.abs(m.w()[i * m.cols() + j] - d[i * m.cols() + j]);
                            float slack = 4 * Math.ulp(Math.abs(m.w()[i * m.cols() + j])) + Math.ulp(scale);
                            assertTrue(err <= scale * 0.5f + slack, s + ": error " + err + " above half a step " + scale / 2);
                        }
                    }
                }
            }
        }
    }

    @Test
    void errorShrinksWithMoreBitsAndSmallerGroups() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        double previous = Double.MAX_VALUE;
        for (int bits : BITS) {
            double e = mse(m, new QuantScheme(bits, 128, true));
            assertTrue(e < previous / 2, bits + " bits: mse " + e + " should be well below " + previous);
            previous = e;
        }
        double channel = mse(m, new QuantScheme(4, 0, true));
        double g128 = mse(m, new QuantScheme(4, 128, true));
        double g32 = mse(m, new QuantScheme(4, 32, true));
        assertTrue(g32 < g128 && g128 < channel, "group 32 < 128 < channel: " + g32 + " " + g128 + " " + channel);
        assertTrue(mse(m, new QuantScheme(3, 64, false)) < mse(m, new QuantScheme(3, 64, true)), "asymmetric grids fit better at 3 bits");
    }

    @Test
    void bf16ScalesAreStoredExactlyAndNeverZero() {
        float[] w = new float[2 * 64];
        for (int j = 0; j < 64; j++) {
            w[j] = (float) Math.sin(j) * 0.01f; // row 0: ordinary
            w[64 + j] = 0f; // row 1: all zero -> grid [-1, 1]
        }
        QuantizedMatrix q = Rtn.quantize(w, 2, 64, new QuantScheme(4, 32, true), DType.BF16);
        for (float s : q.scales()) {
            assertTrue(s > 0);
            assertEquals(s, dev.moekit.toolkit.tensor.Floats.bf16ToFloat(dev.moekit.toolkit.tensor.Floats.floatToBf16(s)), 0f);
        }
        float[] d = q.dequantize();
        for (int j = 0; j < 64; j++) {
            assertEquals(0f, d[64 + j], 0f, "zeros stay exactly zero");
        }
    }

    @Test
    void clipSearchNeverLosesToMinMaxAndWinsClearlyAtLowBits() {
        TestWeights.Matrix m = TestWeights.first(256, 512); // a real mixtral-tiny weight
        for (int bits : new int[] {2, 3, 4, 5, 6, 8}) {
            for (boolean sym : new boolean[] {true, false}) {
                QuantScheme s = new QuantScheme(bits, 64, sym);
                QuantizedMatrix plain = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16);
                QuantizedMatrix searched = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16, true, null);
                // group by group: the searched grid's squared error is never above the min-max grid's
                float[] dp = plain.dequantize();
                float[] ds = searched.dequantize();
                for (int i = 0; i < m.rows(); i++) {
                    for (int g = 0; g < s.groups(m.cols()); g++) {
                        double ep = 0;
                        double es = 0;
                        for (int j = g * 64; j < (g + 1) * 64; j++) {
                            int k = i * m.cols() + j;
                            ep += (m.w()[k] - dp[k]) * (double) (m.w()[k] - dp[k]);
                            es += (m.w()[k] - ds[k]) * (double) (m.w()[k] - ds[k]);
                        }
                        assertTrue(es <= ep, s + " row " + i + " group " + g + ": searched error " + es + " above min-max " + ep);
                    }
                }
                double ratio = sse(m.w(), ds) / sse(m.w(), dp);
                if (bits <= 3) {
                    assertTrue(ratio < 0.85, s + ": clipping search should cut the error by 15% or more at " + bits + " bits, ratio " + ratio);
                }
                assertTrue(ratio <= 1.0, s + ": ratio " + ratio);
            }
        }
    }

    @Test
    void importanceMovesTheErrorOffTheColumnsThatMatter() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        float[] imp = new float[m.cols()];
        for (int j = 0; j < imp.length; j++) {
            imp[j] = j % 8 == 0 ? 100f : 1f; // every eighth input carries most of the activation energy
        }
        QuantScheme s = new QuantScheme(3, 128, true);
        float[] unweighted = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, true, null).dequantize();
        float[] weighted = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, true, imp).dequantize();
        double eu = weightedSse(m.w(), unweighted, imp, m.cols());
        double ew = weightedSse(m.w(), weighted, imp, m.cols());
        assertTrue(ew < 0.95 * eu, "importance-weighted search should lower the weighted error: " + ew + " vs " + eu);
        assertThrows(IllegalArgumentException.class, () -> Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32, true, new float[3]));
    }

    @Test
    void fiveSixAndSevenBitGridsHaveTheirCodeRange() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        double previous = Double.MAX_VALUE;
        for (int bits : new int[] {4, 5, 6, 7, 8}) {
            QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), new QuantScheme(bits, 128, false), DType.F32);
            int max = 0;
            for (byte c : q.codes()) {
                max = Math.max(max, c & 0xff);
            }
            assertEquals((1 << bits) - 1, max, bits + " bits: an asymmetric min-max grid uses its top code");
            double e = sse(m.w(), q.dequantize());
            assertTrue(e < previous / 3, bits + " bits: error " + e + " should fall about 4x a bit from " + previous);
            previous = e;
        }
    }

    private static double sse(float[] w, float[] d) {
        return weightedSse(w, d, null, w.length);
    }

    private static double weightedSse(float[] w, float[] d, float[] imp, int cols) {
        double e = 0;
        for (int i = 0; i < d.length; i++) {
            double x = d[i] - w[i];
            e += (imp == null ? 1 : imp[i % cols]) * x * x;
        }
        return e;
    }

    private static double mse(TestWeights.Matrix m, QuantScheme s) {
        float[] d = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.F32).dequantize();
        double e = 0;
        for (int i = 0; i < d.length; i++) {
            double x = d[i] - m.w()[i];
            e += x * x;
        }
        return e / d.length;
    }
}
