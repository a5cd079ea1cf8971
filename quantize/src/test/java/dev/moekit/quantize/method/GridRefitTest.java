package dev.moekit.quantize.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * GPTQ's grids refitted to its codes ({@link GridRefit}) on mixtral-tiny's expert weights and correlated inputs: the
 * codes stay, every row's Hessian-weighted error is at most GPTQ's, the total falls, and the refitted grids are stored
 * as their scheme stores them.
 */
class GridRefitTest {
    private static final double DAMP = 0.01;

    @Test
    void refitKeepsTheCodesAndLowersEveryRowsHessianError() {
        TestWeights.Matrix m = TestWeights.first(256, 512); // an expert w2: 512 inputs
        int n = 2048;
        float[] x = TestWeights.correlatedInputs(n, m.cols(), 7);
        Linalg la = Linalg.nd4j();
        float[] h = TestWeights.hessian(x, n, m.cols(), la);
        for (String t : List.of("q2_k", "q3_k", "int2/g32/asym/k4", "int2/g32/asym", "int3/g128/sym", "int3/g64/asym")) {
            QuantScheme s = QuantScheme.parse("scheme", t);
            for (boolean actOrder : s.quantizedScales() ? new boolean[] {false} : new boolean[] {false, true}) {
                QuantizedMatrix g = Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(s).withActOrder(actOrder), DType.BF16, la).quantized();
                QuantizedMatrix r = GridRefit.refit(m.w(), h, g, DType.BF16, DAMP, la);
                String what = t + (actOrder ? " act_order" : "");
                assertArrayEquals(g.codes(), r.codes(), what + ": the codes are GPTQ's");
                assertArrayEquals(g.zeros(), r.zeros(), what + ": zero points stay");
                double[] eg = rowErrors(m, g, h);
                double[] er = rowErrors(m, r, h);
                double sg = 0;
                double sr = 0;
                int better = 0;
                for (int i = 0; i < m.rows(); i++) {
                    assertTrue(er[i] <= eg[i] * (1 + 1e-5) + 1e-12, what + ": row " + i + " error " + er[i] + " above GPTQ's " + eg[i]);
                    better += er[i] < eg[i] ? 1 : 0;
                    sg += eg[i];
                    sr += er[i];
                }
                System.out.printf("refit/GPTQ Hessian error %s: %.3f (%d of %d rows refitted)%n", what, sr / sg, better, m.rows());
                assertTrue(sr < 0.99 * sg, what + ": the refit lowers the total error, " + sr + " vs " + sg);
                for (int i = 0; i < m.rows(); i += 51) {
                    for (int k = 0; k < g.groups(); k++) {
                        float sc = r.scale(i, k);
                        assertTrue(sc > 0, what + ": positive scale");
                        if (!s.quantizedScales()) {
                            assertEquals(0, Float.floatToIntBits(sc) & 0xFFFF, what + ": a float scale is a bf16 value");
                        }
                        if (s.hasMins()) {
                            assertTrue(r.min(i, k) >= 0, what + ": minimums stay at or above 0, as GGUF stores them");
                        }
                    }
                }
            }
        }
    }

    @Test
    void encodedSuperBlocksAreFp16ScalesTimesSmallIntegers() {
        QuantScheme s = QuantScheme.parse("k", "q2_k");
        float[] fs = new float[16];
        float[] fm = new float[16];
        for (int g = 0; g < 16; g++) {
            fs[g] = 0.01f + 0.003f * g;
            fm[g] = 0.02f * (g % 5);
        }
        for (float stretch : new float[] {1f, 0.96f, 1.04f}) {
            KGrid.Block b = KGrid.encode(s, fs, fm, stretch);
            assertEquals(fp16(b.d()), b.d(), 0f);
            assertEquals(fp16(b.dmin()), b.dmin(), 0f);
            for (int g = 0; g < 16; g++) {
                assertTrue(b.scaleCodes()[g] >= 1 && b.scaleCodes()[g] <= s.maxScaleCode());
                assertEquals(b.d() * b.scaleCodes()[g], b.scales()[g], 0f);
                assertEquals(b.dmin() * b.minCodes()[g], b.mins()[g], 0f);
                assertEquals(fs[g], b.scales()[g], b.d() * (stretch == 1f ? 0.5001f : 2f), "each scale is the nearest code's");
            }
        }
    }

    /** {@code (w - v)^T (H + damp) (w - v)} per row. */
    private static double[] rowErrors(TestWeights.Matrix m, QuantizedMatrix q, float[] h) {
        int cols = m.cols();
        double mean = 0;
        for (int j = 0; j < cols; j++) {
            mean += h[j * cols + j];
        }
        double dv = DAMP * mean / cols;
        float[] v = q.dequantize();
        double[] out = new double[m.rows()];
        double[] d = new double[cols];
        for (int i = 0; i < m.rows(); i++) {
            for (int j = 0; j < cols; j++) {
                d[j] = m.w()[i * cols + j] - v[i * cols + j];
            }
            double e = 0;
            for (int j = 0; j < cols; j++) {
                double hj = dv * d[j];
                for (int k = 0; k < cols; k++) {
                    hj += h[j * cols + k] * d[k];
                }
                e += d[j] * hj;
            }
            out[i] = e;
        }
        return out;
    }

    private static float fp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
