package dev.moekit.quantize.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.Codebooks;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.Role;
import org.junit.jupiter.api.Test;

/** Codebook schemes (GPTVQ: vectors of 2 or 4 weights, k-means codebooks per tile) in RTN and GPTQ, on mixtral-tiny's weights. */
class CodebookTest {
    @Test
    void schemesParsePrintAndCountTheirCodebooks() {
        QuantScheme s = QuantScheme.parse("k", "int2/g256/vq2");
        assertTrue(s.codebook());
        assertEquals(2, s.vectorDim());
        assertEquals(16, s.codebookSize());
        assertEquals("int2/g256/vq2", s.toString());
        assertEquals(s, QuantScheme.parse("k", s.toString()));
        assertEquals("int2/channel/vq4", QuantScheme.parse("k", "int2/channel/vq4").toString());
        // codes, a bf16 scale per row and tile, 16 centroids of 2 bf16 values per tile
        assertEquals(512L * 256 * 2 + 512 * 16 + 16 * 2 * 16, s.codebookBits(512, 256, 16));
        assertEquals(2 * (256L * 16 + 16 * 2 * 16) + 256L * 512 * 2, s.codebookBits(256, 512, 16), "two tiles a row of 512");
        IllegalArgumentException wide = assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("candidate_schemes", "int3/channel/vq4"));
        assertTrue(wide.getMessage().contains("candidate_schemes") && wide.getMessage().contains("12"), wide.getMessage());
        assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("k", "int2/g33/vq2"), "a tile of half vectors");
        assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("k", "int2/g64/vq3"), "3-weight vectors");
        IllegalArgumentException packed = assertThrows(IllegalArgumentException.class, () -> PackedFormat.named("compressed-tensors").check(s));
        assertTrue(packed.getMessage().contains("fake-quant"), packed.getMessage());
        PackedFormat.named("fake-quant").check(s);
        LinearModule m = new LinearModule("model.layers.0.mlp.experts.0.w1", "model.layers.0.mlp.experts.0.w1.weight", Role.EXPERT_GATE, 0, 0, 512, 256, -1);
        assertEquals(s.codebookBits(512, 256, 16), PackedFormat.named("fake-quant").storedBits(m, s, false, DType.BF16));
    }

    @Test
    void valuesAreRowScaleTimesCentroidAndEachVectorTakesItsNearest() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        QuantScheme s = QuantScheme.parse("k", "int2/g128/vq2");
        QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16);
        float[] v = q.dequantize();
        int k = s.codebookSize();
        for (int i = 0; i < m.rows(); i += 31) {
            for (int j = 0; j < m.cols(); j += 2) {
                int g = j / 128;
                int code = q.code(i, j);
                assertEquals(code, q.code(i, j + 1), "one code a vector");
                float scale = q.scale(i, g);
                assertEquals(bf16(scale), scale, 0f, "row scales are bf16 values");
                for (int a = 0; a < 2; a++) {
                    float c = q.codebook()[(g * k + code) * 2 + a];
                    assertEquals(bf16(c), c, 0f, "centroids are bf16 values");
                    assertEquals(scale * c, v[i * m.cols() + j + a], 0f, "value = row scale * centroid");
                }
                double mine = dist(m.w(), i * m.cols() + j, v, i * m.cols() + j);
                for (int other = 0; other < k; other++) {
                    float[] alt = {scale * q.codebook()[(g * k + other) * 2], scale * q.codebook()[(g * k + other) * 2 + 1]};
                    assertTrue(mine <= dist(m.w(), i * m.cols() + j, alt, 0) + 1e-12, "no centroid is nearer than the chosen one");
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new QuantizedMatrix(1, 4, s, new byte[4], new float[1], new byte[1], null, null),
                "a codebook scheme without its codebook");
    }

    @Test
    void twoDimensionalCodebooksBeatFloatScaledTwoBitGridsAtFewerBits() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        QuantScheme vq = QuantScheme.parse("k", "int2/channel/vq2"); // 2.07 bits a weight
        double bitsVq = vq.codebookBits(m.rows(), m.cols(), 16) / (double) m.w().length;
        double eVq = mse(m, Rtn.quantize(m.w(), m.rows(), m.cols(), vq, DType.BF16));
        // int2/g64/asym: 2.5 bits (a bf16 scale and zero per 64 weights); int2/g32/asym/k4 (2.375) is printed beside them
        double eG64 = mse(m, Rtn.quantize(m.w(), m.rows(), m.cols(), new QuantScheme(2, 64, false), DType.BF16, true, null));
        double eK4 = mse(m, Rtn.quantize(m.w(), m.rows(), m.cols(), QuantScheme.parse("k", "int2/g32/asym/k4"), DType.BF16, true, null));
        System.out.printf("mse vq2 (%.3f bits) %.4g, int2/g64/asym searched %.4g, int2/g32/asym/k4 searched %.4g%n", bitsVq, eVq, eG64, eK4);
        assertTrue(bitsVq < 2.1, "vq2 bits " + bitsVq);
        assertTrue(eVq < eG64, "vq2 " + eVq + " vs int2/g64/asym " + eG64);
        double eVq4 = mse(m, Rtn.quantize(m.w(), m.rows(), m.cols(), QuantScheme.parse("k", "int2/channel/vq4"), DType.BF16));
        System.out.printf("mse vq4 %.4g%n", eVq4);
        assertTrue(eVq4 < eVq, "4-weight vectors " + eVq4 + " beat 2-weight ones " + eVq + " at the same code bits");
    }

    @Test
    void gptqOnCodebooksBeatsCodebookRtnOnTheOutput() {
        TestWeights.Matrix m = TestWeights.first(512, 256);
        int n = 1024;
        float[] x = TestWeights.correlatedInputs(n, m.cols(), 5);
        Linalg la = Linalg.nd4j();
        float[] h = TestWeights.hessian(x, n, m.cols(), la);
        for (String t : new String[] {"int2/channel/vq2", "int2/g128/vq2", "int2/channel/vq4"}) {
            QuantScheme s = QuantScheme.parse("k", t);
            Gptq.Result g = Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(s), DType.BF16, la);
            assertEquals(s, g.quantized().scheme());
            float[] diag = new float[m.cols()];
            for (int j = 0; j < diag.length; j++) {
                diag[j] = h[j * m.cols() + j];
            }
            double eg = TestWeights.outputError(m.w(), g.quantized().dequantize(), m.rows(), m.cols(), x, 256);
            double er = TestWeights.outputError(m.w(), Codebooks.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16, diag).dequantize(), m.rows(), m.cols(), x, 256);
            System.out.printf("GPTQ/RTN output error %s: %.3f%n", t, eg / er);
            assertTrue(eg < 0.85 * er, t + ": GPTQ output error " + eg + " should beat importance-weighted RTN " + er);
        }
        for (String t : new String[] {"int2/channel/vq2", "int2/g128/vq2", "int2/g128/vq4"}) { // GPTVQ's codebook update never loses, and here gains (the last tile by tile: 2048 centroid values)
            QuantScheme s = QuantScheme.parse("k", t);
            QuantizedMatrix g = Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(s), DType.BF16, la).quantized();
            QuantizedMatrix r = CodebookRefit.refit(m.w(), h, g, DType.BF16, 0.01, la);
            assertEquals(java.util.Arrays.toString(g.codes()), java.util.Arrays.toString(r.codes()), "codes stay");
            double before = TestWeights.outputError(m.w(), g.dequantize(), m.rows(), m.cols(), x, n);
            double after = TestWeights.outputError(m.w(), r.dequantize(), m.rows(), m.cols(), x, n);
            System.out.printf("codebook update %s: output error %.4g -> %.4g%n", t, before, after);
            assertTrue(after < 0.99 * before, t + ": refitted " + after + " vs GPTQ's " + before);
        }
        QuantScheme vq = QuantScheme.parse("k", "int2/g128/vq2");
        assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize(m.w(), m.rows(), m.cols(), h, Gptq.Params.defaults(vq).withActOrder(true), DType.BF16, la),
                "activation order would scatter a vector's columns");
    }

    private static float bf16(float v) {
        return dev.moekit.toolkit.tensor.Floats.bf16ToFloat(dev.moekit.toolkit.tensor.Floats.floatToBf16(v));
    }

    private static double dist(float[] w, int at, float[] v, int vat) {
        double a = w[at] - v[vat];
        double b = w[at + 1] - v[vat + 1];
        return a * a + b * b;
    }

    private static double mse(TestWeights.Matrix m, QuantizedMatrix q) {
        float[] d = q.dequantize();
        double e = 0;
        for (int i = 0; i < d.length; i++) {
            double x = m.w()[i] - d[i];
            e += x * x;
        }
        return e / d.length;
    }
}
