package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.DType;
import org.junit.jupiter.api.Test;

/** The relative error and the row reader on real mixtral-tiny weights, against the plain definitions. */
class QuantErrorTest {
    private static double scalar(float[] w, float[] d) {
        double e = 0;
        double n = 0;
        for (int i = 0; i < w.length; i++) {
            double x = w[i] - d[i];
            e += x * x;
            n += (double) w[i] * w[i];
        }
        return Math.sqrt(e / Math.max(1e-30, n));
    }

    @Test
    void relativeErrorFromTheCodesEqualsTheDefinitionOnTheDequantizedWeight() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        for (QuantScheme s : new QuantScheme[] {new QuantScheme(4, 128, true), new QuantScheme(3, 64, false), new QuantScheme(2, 0, false)}) {
            QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), s, DType.BF16);
            double want = scalar(m.w(), q.dequantize());
            double got = QuantError.relative(m.w(), q);
            assertEquals(want, got, want * 1e-12, s.toString()); // only the order of the sums differs
            assertEquals(got, QuantError.relative(m.w(), q), 0.0, "the same value every time");
        }
    }

    @Test
    void rowReaderAndDequantizeAgreeWithTheFormulaAlsoWithGIdx() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        QuantizedMatrix natural = Rtn.quantize(m.w(), m.rows(), m.cols(), new QuantScheme(4, 128, false), DType.BF16);
        int[] gIdx = new int[m.cols()];
        for (int j = 0; j < gIdx.length; j++) {
            gIdx[j] = (j * 5) % natural.groups(); // a permuted column-to-group map, as activation order gives
        }
        QuantizedMatrix permuted = new QuantizedMatrix(natural.rows(), natural.cols(), natural.scheme(), natural.codes(), natural.scales(),
                natural.zeros(), gIdx);
        for (QuantizedMatrix q : new QuantizedMatrix[] {natural, permuted}) {
            float[] all = q.dequantize();
            QuantizedMatrix.RowReader rows = q.rowReader();
            for (int i = 0; i < q.rows(); i++) {
                float[] want = new float[q.cols()];
                for (int j = 0; j < q.cols(); j++) {
                    want[j] = QuantizedMatrix.dequant(q.scale(i, q.group(j)), q.code(i, j), q.zero(i, q.group(j)));
                }
                assertArrayEquals(want, rows.row(i), "row " + i);
                assertArrayEquals(want, java.util.Arrays.copyOfRange(all, i * q.cols(), (i + 1) * q.cols()), "dequantize row " + i);
            }
            assertEquals(scalar(m.w(), all), QuantError.relative(m.w(), q), scalar(m.w(), all) * 1e-12);
        }
    }

    @Test
    void refusesAWeightOfAnotherShape() {
        TestWeights.Matrix m = TestWeights.first(256, 512);
        QuantizedMatrix q = Rtn.quantize(m.w(), m.rows(), m.cols(), new QuantScheme(4, 128, true), DType.BF16);
        assertThrows(IllegalArgumentException.class, () -> QuantError.relative(new float[10], q));
    }
}
