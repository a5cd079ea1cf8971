package dev.moekit.toolkit.linalg;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link Linalg} on ND4J: LAPACK {@code spotrf} through {@code Nd4j.getBlasWrapper().lapack()}, {@code sgemm}
 * through ND4J, {@code cblas_strsm} straight from OpenBLAS (JavaCPP preset that ND4J loads), all in fp32 and column-major ('f') where LAPACK needs it.
 */
final class Nd4jLinalg implements Linalg {
    static final Nd4jLinalg INSTANCE = new Nd4jLinalg();

    private Nd4jLinalg() {
    }

    @Override
    public float[] cholesky(float[] a, int n) {
        check(a, (long) n * n, "cholesky input");
        INDArray m = Nd4j.create(a, new long[] {n, n}, 'f'); // symmetric: row- and column-major agree
        potrfLower(m, n);
        float[] l = rowMajor(m);
        zeroUpper(l, n);
        return l;
    }

    @Override
    public float[] inverseCholeskyUpper(float[] a, int n) {
        check(a, (long) n * n, "inverse Cholesky input");
        float[] rev = reversed(a); // J a J
        INDArray m = Nd4j.create(rev, new long[] {n, n}, 'f');
        potrfLower(m, n); // J a J = M M^T; strsm below reads only the lower triangle
        INDArray inv = Nd4j.eye(n).castTo(DataType.FLOAT).dup('f');
        // solve M X = I: X = M^-1 (lower). ND4J's Level3.trsm is a no-op in 1.0.0-M2.1, so call OpenBLAS directly.
        openblas_nolapack.cblas_strsm(openblas_nolapack.CblasColMajor, openblas_nolapack.CblasLeft, openblas_nolapack.CblasLower,
                openblas_nolapack.CblasNoTrans, openblas_nolapack.CblasNonUnit, n, n, 1f,
                (FloatPointer) m.data().addressPointer(), n, (FloatPointer) inv.data().addressPointer(), n);
        float[] x = rowMajor(inv);
        float[] u = reversed(x); // J M^-1 J, upper
        zeroLower(u, n);
        return u;
    }

    @Override
    public float[] matmul(float[] a, float[] b, int m, int k, int n) {
        check(a, (long) m * k, "matmul A");
        check(b, (long) k * n, "matmul B");
        INDArray x = Nd4j.create(a, new long[] {m, k}, 'c');
        INDArray y = Nd4j.create(b, new long[] {k, n}, 'c');
        return rowMajor(x.mmul(y));
    }

    @Override
    public Gram gram(int n) {
        return new NdGram(n);
    }

    @Override
    public RowMatrix rowMatrix(int rows, int cols) {
        return new NdRowMatrix(rows, cols);
    }

    private static void potrfLower(INDArray m, int n) {
        try {
            Nd4j.getBlasWrapper().lapack().potrf(m, true);
        } catch (Error | RuntimeException e) {
            throw new NotPositiveDefiniteException("Cholesky of a " + n + "x" + n + " matrix failed: " + e.getMessage());
        }
    }

    static float[] rowMajor(INDArray m) {
        return m.dup('c').data().asFloat();
    }

    private static float[] reversed(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0, j = a.length - 1; i < a.length; i++, j--) {
            r[i] = a[j];
        }
        return r;
    }

    private static void zeroUpper(float[] l, int n) {
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(l, i * n + i + 1, (i + 1) * n, 0f);
        }
    }

    private static void zeroLower(float[] u, int n) {
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(u, i * n, i * n + i, 0f);
        }
    }

    private static void check(float[] a, long len, String what) {
        if (a.length != len) {
            throw new IllegalArgumentException(what + " has " + a.length + " values, expected " + len);
        }
    }

    private static final class NdGram implements Gram {
        private final int n;
        private INDArray g;

        NdGram(int n) {
            this.n = n;
            this.g = Nd4j.zeros(DataType.FLOAT, n, n).dup('f');
        }

        @Override
        public void add(float[] rows, int count) {
            if (rows.length < (long) count * n) {
                throw new IllegalArgumentException("gram batch has " + rows.length + " values, expected " + (long) count * n);
            }
            float[] exact = rows.length == count * n ? rows : java.util.Arrays.copyOf(rows, count * n);
            INDArray x = Nd4j.create(exact, new long[] {count, n}, 'c');
            Nd4j.gemm(x, x, g, true, false, 1.0, 1.0);
        }

        @Override
        public float[] toArray(float scale) {
            float[] out = rowMajor(g);
            for (int i = 0; i < out.length; i++) {
                out[i] *= scale;
            }
            return out;
        }

        @Override
        public int size() {
            return n;
        }

        @Override
        public void close() {
            if (g != null) {
                g.close();
                g = null;
            }
        }
    }

    private static final class NdRowMatrix implements RowMatrix {
        private final int rows;
        private final int cols;
        private INDArray s;

        NdRowMatrix(int rows, int cols) {
            this.rows = rows;
            this.cols = cols;
            this.s = Nd4j.zeros(DataType.FLOAT, rows, cols); // 'c': a row prefix is one contiguous block
        }

        @Override
        public void setRows(int first, float[] data, int count) {
            if (first < 0 || first + count > rows || data.length != (long) count * cols) {
                throw new IllegalArgumentException("row block [" + first + ", " + (first + count) + ") with " + data.length
                        + " values does not fit a " + rows + "x" + cols + " matrix");
            }
            s.get(NDArrayIndex.interval(first, first + count), NDArrayIndex.all())
                    .assign(Nd4j.create(data, new long[] {count, cols}, 'c'));
        }

        @Override
        public float[] leftMultiplyPrefix(float[] a, int m, int prefix) {
            if (prefix <= 0 || prefix > rows || a.length != (long) m * prefix) {
                throw new IllegalArgumentException("prefix product A[" + m + "," + prefix + "] does not fit " + rows + " rows");
            }
            INDArray x = Nd4j.create(a, new long[] {m, prefix}, 'c');
            INDArray view = s.get(NDArrayIndex.interval(0, prefix), NDArrayIndex.all());
            return rowMajor(x.mmul(view));
        }

        @Override
        public void close() {
            if (s != null) {
                s.close();
                s = null;
            }
        }
    }
}
