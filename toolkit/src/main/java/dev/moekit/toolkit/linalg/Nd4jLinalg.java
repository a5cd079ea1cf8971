package dev.moekit.toolkit.linalg;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link Linalg} on ND4J's native stack: LAPACK {@code spotrf}/{@code strtri} called straight through the OpenBLAS
 * JavaCPP preset ND4J loads (ND4J 1.0.0-M2.1 wraps potrf but not trtri, and its {@code Level3.trsm} is a no-op),
 * {@code sgemm} through ND4J arrays, all in fp32 and column-major ('f') where LAPACK needs it.
 */
final class Nd4jLinalg implements Linalg {
    static final Nd4jLinalg INSTANCE = new Nd4jLinalg();

    private Nd4jLinalg() {
    }

    @Override
    public float[] cholesky(float[] a, int n) {
        check(a, (long) n * n, "cholesky input");
        try (FloatPointer p = new FloatPointer((long) n * n)) {
            p.put(a); // symmetric: row- and column-major agree
            potrfLower(p, n);
            float[] colMajor = new float[n * n];
            p.get(colMajor);
            float[] l = new float[n * n];
            for (int j = 0; j < n; j++) { // column j of L: rows j..n-1
                for (int i = j; i < n; i++) {
                    l[i * n + j] = colMajor[j * n + i];
                }
            }
            return l;
        }
    }

    @Override
    public float[] inverseCholeskyUpper(float[] a, int n) {
        check(a, (long) n * n, "inverse Cholesky input");
        try (FloatPointer p = new FloatPointer((long) n * n)) {
            p.put(reversed(a)); // J a J, symmetric
            potrfLower(p, n); // J a J = M M^T
            int info = openblas.LAPACKE_strtri(openblas.LAPACK_COL_MAJOR, (byte) 'L', (byte) 'N', n, p, n); // M^-1, lower
            if (info != 0) {
                throw new NotPositiveDefiniteException("triangular inverse of a " + n + "x" + n + " Cholesky factor failed (info " + info + ")");
            }
            float[] x = new float[n * n];
            p.get(x); // column-major M^-1: (r, c) at c*n + r
            // U = J M^-1 J: U[i][j] = M^-1[n-1-i][n-1-j] = x[(n-1-j)*n + (n-1-i)], upper (j >= i); read x contiguously
            float[] u = new float[n * n];
            for (int c = 0; c < n; c++) {
                int j = n - 1 - c;
                for (int r = c; r < n; r++) {
                    u[(n - 1 - r) * n + j] = x[c * n + r];
                }
            }
            return u;
        }
    }

    /** LAPACK {@code spotrf} (lower) in place on a column-major [n, n] matrix. */
    private static void potrfLower(FloatPointer p, int n) {
        int info = openblas.LAPACKE_spotrf(openblas.LAPACK_COL_MAJOR, (byte) 'L', n, p, n);
        if (info != 0) {
            throw new NotPositiveDefiniteException("Cholesky of a " + n + "x" + n + " matrix failed: "
                    + (info > 0 ? "leading minor " + info + " is not positive definite" : "argument " + (-info) + " invalid"));
        }
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
        public float[] transposedTimesPrefix(float[] b, int prefix, int m) {
            if (prefix <= 0 || prefix > rows || b.length != (long) m * prefix) {
                throw new IllegalArgumentException("prefix product B^T with B[" + prefix + "," + m + "] does not fit " + rows + " rows");
            }
            INDArray x = Nd4j.create(b, new long[] {prefix, m}, 'c');
            INDArray view = s.get(NDArrayIndex.interval(0, prefix), NDArrayIndex.all());
            INDArray out = Nd4j.gemm(x, view, true, false);
            return rowMajor(out);
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
