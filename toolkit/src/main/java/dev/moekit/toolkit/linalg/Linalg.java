package dev.moekit.toolkit.linalg;

/**
 * CPU dense linear algebra behind a small interface, so methods state their maths in plain {@code float[]} arrays
 * (row-major) and the heavy kernels (LAPACK Cholesky, BLAS gemm) come from a native library. The one implementation
 * is {@link #nd4j()} (ND4J 1.0.0-M2.1 with OpenBLAS; fp32 only, see {@code docs/java-stack.md} §3).
 *
 * <p>Matrices are row-major {@code float[]}; a symmetric matrix is the same in either order.
 */
public interface Linalg {
    /** The ND4J/OpenBLAS implementation (process-wide, stateless). */
    static Linalg nd4j() {
        return Nd4jLinalg.INSTANCE;
    }

    /**
     * Lower Cholesky factor: {@code a = L L^T} for a symmetric positive definite {@code a} [n, n]; the strict upper
     * triangle of the result is zero. Throws {@link NotPositiveDefiniteException} otherwise.
     */
    float[] cholesky(float[] a, int n);

    /**
     * Upper Cholesky factor of the inverse: the upper-triangular {@code U} with {@code a^-1 = U^T U}, for a symmetric
     * positive definite {@code a} [n, n]. This is GPTQ's {@code Hinv} ({@code cholesky(cholesky_inverse(cholesky(H)),
     * upper=True)}), computed without forming {@code a^-1}: with the reversal permutation J, factor
     * {@code J a J = M M^T}; then {@code a = (J M J)(J M J)^T} with {@code J M J} upper, and
     * {@code U = (J M J)^-1 = J M^-1 J}. Cholesky factors are unique, so this equals the reference's result up to
     * rounding, at about a third of its flops.
     */
    float[] inverseCholeskyUpper(float[] a, int n);

    /** {@code C = A B} with {@code A} [m, k] and {@code B} [k, n]; returns C [m, n]. */
    float[] matmul(float[] a, float[] b, int m, int k, int n);

    /** A native accumulator of {@code X^T X} over row batches of width {@code n}. */
    Gram gram(int n);

    /** A native [rows, cols] matrix written by row blocks and multiplied by its row prefixes. */
    RowMatrix rowMatrix(int rows, int cols);

    /** Accumulates {@code G = sum over batches of X^T X} for rows {@code X} [count, n]. */
    interface Gram extends AutoCloseable {
        /** Adds {@code X^T X} for {@code rows} [count, n], row-major. */
        void add(float[] rows, int count);

        /** The current sum [n, n], row-major, times {@code scale}. */
        float[] toArray(float scale);

        int size();

        @Override
        void close();
    }

    /** A native matrix S [rows, cols]. */
    interface RowMatrix extends AutoCloseable {
        /** Sets rows {@code [first, first+count)} from {@code data} [count, cols], row-major. */
        void setRows(int first, float[] data, int count);

        /** Returns {@code A S[0:prefix, :]} [m, cols] for {@code A} [m, prefix], row-major. */
        float[] leftMultiplyPrefix(float[] a, int m, int prefix);

        /** Returns {@code B^T S[0:prefix, :]} [m, cols] for {@code B} [prefix, m], row-major (no transpose copy). */
        float[] transposedTimesPrefix(float[] b, int prefix, int m);

        @Override
        void close();
    }

    /** A Cholesky factorisation met a non-positive pivot. */
    final class NotPositiveDefiniteException extends IllegalArgumentException {
        public NotPositiveDefiniteException(String message) {
            super(message);
        }
    }
}
