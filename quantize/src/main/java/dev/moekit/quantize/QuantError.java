package dev.moekit.quantize;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The relative error {@code ||W - Q||_F / ||W||_F} of a quantized weight, computed row by row from the codes (no
 * dequantized [rows, cols] copy), rows in parallel. Each row's two sums run in double over vector lanes (the float
 * difference {@code w - q} widened, as a scalar loop would); the rows' sums are then added in row order, so the result
 * depends on neither the thread count nor the scheduling.
 */
final class QuantError {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, VectorShape.forBitSize(F.vectorBitSize()));

    private QuantError() {
    }

    /** {@code ||w - q||_F / ||w||_F} ({@code ||w||} floored at 1e-30 squared, so an all-zero weight gives 0). */
    static double relative(float[] w, QuantizedMatrix q) {
        int cols = q.cols();
        if (w.length != (long) q.rows() * cols) {
            throw new IllegalArgumentException("weight has " + w.length + " values, the quantized matrix " + q.rows() + "x" + cols);
        }
        double[] err = new double[q.rows()];
        double[] norm = new double[q.rows()];
        q.forRowBlocks((from, to) -> {
            QuantizedMatrix.RowReader rows = q.rowReader();
            for (int i = from; i < to; i++) {
                row(w, i * cols, rows.row(i), cols, err, norm, i);
            }
        });
        double e = 0;
        double n = 0;
        for (int i = 0; i < err.length; i++) {
            e += err[i];
            n += norm[i];
        }
        return Math.sqrt(e / Math.max(1e-30, n));
    }

    private static double inOrder(DoubleVector v) {
        double s = 0;
        for (double x : v.toArray()) {
            s += x;
        }
        return s;
    }

    /** Sums {@code (w - v)^2} and {@code w^2} of one row into {@code err[i]}, {@code norm[i]}. */
    private static void row(float[] w, int off, float[] v, int cols, double[] err, double[] norm, int i) {
        DoubleVector e0 = DoubleVector.zero(D);
        DoubleVector e1 = DoubleVector.zero(D);
        DoubleVector n0 = DoubleVector.zero(D);
        DoubleVector n1 = DoubleVector.zero(D);
        int j = 0;
        for (int upper = F.loopBound(cols); j < upper; j += F.length()) {
            FloatVector x = FloatVector.fromArray(F, w, off + j);
            FloatVector d = x.sub(FloatVector.fromArray(F, v, j));
            DoubleVector dl = (DoubleVector) d.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector dh = (DoubleVector) d.convertShape(VectorOperators.F2D, D, 1);
            DoubleVector xl = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector xh = (DoubleVector) x.convertShape(VectorOperators.F2D, D, 1);
            e0 = dl.fma(dl, e0);
            e1 = dh.fma(dh, e1);
            n0 = xl.fma(xl, n0);
            n1 = xh.fma(xh, n1);
        }
        double e = inOrder(e0.add(e1)); // reduceLanes(ADD) leaves the order open, and so the rounding
        double n = inOrder(n0.add(n1));
        for (; j < cols; j++) {
            double d = w[off + j] - v[j];
            e += d * d;
            n += (double) w[off + j] * w[off + j];
        }
        err[i] = e;
        norm[i] = n;
    }
}
