package dev.moekit.quantize.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.toolkit.linalg.Linalg;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The dense linear algebra of GPTQ as DJL NDArray ops, on whatever device the arrays live (CPU or {@code gpu:N}).
 *
 * <p>DJL 0.35.1 has no Cholesky factorisation, no triangular solve and no triangular inverse ({@code NDArray} offers
 * {@code matMul} and a general LU {@code inverse()}; there is no {@code NDLinalg}). GPTQ needs the upper Cholesky
 * factor of {@code H^-1}, so it is built here from {@code matMul}, {@code flip}, slicing and in-place
 * {@code set}, with only {@code nb x nb} diagonal blocks factored on the host, in double:
 * <ol>
 *   <li>{@code A = J H J} (J the reversal permutation, {@code flip} of both axes);</li>
 *   <li>right-looking blocked Cholesky {@code A = M M^T}: per block column, the diagonal block {@code A11} is copied to
 *       the host, factored ({@code L11}) and inverted ({@code L11^-1}), then on the device
 *       {@code L21 = A21 L11^-T} and the trailing update {@code A22 -= L21 L21^T} (two matMuls);</li>
 *   <li>blocked triangular inverse {@code X = M^-1} by block rows, {@code X_kk = L_kk^-1},
 *       {@code X_k,<k = -X_kk (M_k,<k X_<k,<k)} (two matMuls per block row);</li>
 *   <li>{@code U = J X J}: then {@code H = (J M J)(J M J)^T} with {@code J M J} upper, so {@code U = (J M J)^-1} is
 *       upper with {@code U^T U = H^-1}: the same factor as {@link Linalg#inverseCholeskyUpper} (the host's LAPACK
 *       {@code spotrf}+{@code strtri} on {@code J H J}), up to fp32 rounding.</li>
 * </ol>
 * Host traffic is one {@code nb x nb} block down and two up per block column; the device does the {@code n^3} flops
 * in fp32 matMuls. Every array carries a leading batch axis {@code E}: the experts of one layer that share a role are
 * factored together, in the same number of device calls as one matrix.
 */
final class DeviceLinalg {
    /** Diagonal block width of the blocked factorisations. */
    static final int BLOCK = 64;

    private DeviceLinalg() {
    }

    /** {@code values} [shape] fp32 on {@code m}'s device, through a direct buffer (several times faster than from a float[]). */
    static NDArray upload(NDManager m, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        return m.create(b, new Shape(shape), DataType.FLOAT32);
    }

    /**
     * For each of the {@code E} symmetric positive definite fp32 matrices {@code a} [E, n, n], the upper-triangular
     * {@code U} with {@code a^-1 = U^T U} (GPTQ's {@code Hinv}): a new [E, n, n] array on {@code a}'s manager,
     * {@code a} unchanged. Throws {@link Linalg.NotPositiveDefiniteException} (naming the matrix) when a pivot is not
     * positive.
     */
    static NDArray inverseCholeskyUpper(NDArray a, int nb) {
        int n = Math.toIntExact(a.getShape().get(1));
        NDManager m = a.getManager();
        try (NDManager work = m.newSubManager()) {
            NDArray rev = a.flip(1, 2);
            rev.attach(work);
            List<int[]> blocks = new ArrayList<>();
            List<NDArray> inverses = new ArrayList<>(); // L_kk^-1, [E, bk, bk]
            NDArray lower = lowerCholesky(rev, nb, work, blocks, inverses); // M, [E, n, n]
            rev.close();
            NDArray x = work.zeros(lower.getShape(), DataType.FLOAT32);
            for (int k = 0; k < blocks.size(); k++) {
                int from = blocks.get(k)[0];
                String rows = from + ":" + blocks.get(k)[1];
                x.set(new NDIndex(":, " + rows + ", " + rows), inverses.get(k));
                if (from > 0) {
                    try (NDArray mk = lower.get(new NDIndex(":, " + rows + ", 0:" + from));
                         NDArray xk = x.get(new NDIndex(":, 0:" + from + ", 0:" + from));
                         NDArray left = mk.matMul(xk);
                         NDArray row = inverses.get(k).matMul(left);
                         NDArray neg = row.neg()) {
                        x.set(new NDIndex(":, " + rows + ", 0:" + from), neg);
                    }
                }
            }
            NDArray u = x.flip(1, 2);
            u.attach(m);
            return u;
        }
    }

    /**
     * Lower Cholesky factors of {@code a} [E, n, n] on {@code work}, right-looking by blocks of {@code nb}; records
     * each block's [from, to) and its diagonal blocks' inverses. Views are closed at once: each would keep the
     * trailing matrix it was cut from alive.
     */
    private static NDArray lowerCholesky(NDArray a, int nb, NDManager work, List<int[]> blocks, List<NDArray> inverses) {
        int e = Math.toIntExact(a.getShape().get(0));
        int n = Math.toIntExact(a.getShape().get(1));
        NDList columns = new NDList(); // block columns [E, n, bk], zero above the diagonal block
        NDArray trailing = a; // A22 of the step, [E, n - from, n - from]
        for (int from = 0; from < n; from += nb) {
            int bk = Math.min(nb, n - from);
            int rest = n - from - bk;
            float[] a11;
            try (NDArray v = trailing.get(new NDIndex(":, 0:" + bk + ", 0:" + bk))) {
                a11 = v.toFloatArray();
            }
            float[] l11 = new float[e * bk * bk];
            float[] i11 = new float[e * bk * bk];
            int at = from;
            java.util.stream.IntStream.range(0, e).parallel().forEach(x -> {
                double[] blk = new double[bk * bk];
                for (int k = 0; k < blk.length; k++) {
                    blk[k] = a11[x * bk * bk + k];
                }
                double[] l = hostCholesky(blk, bk, at, n, e > 1 ? x : -1);
                double[] inv = lowerInverse(l, bk);
                for (int k = 0; k < blk.length; k++) {
                    l11[x * bk * bk + k] = (float) l[k];
                    i11[x * bk * bk + k] = (float) inv[k];
                }
            });
            NDArray inv = upload(work, i11, e, bk, bk);
            blocks.add(new int[] {from, from + bk});
            inverses.add(inv);
            NDList parts = new NDList();
            if (from > 0) {
                parts.add(work.zeros(new Shape(e, from, bk), DataType.FLOAT32));
            }
            parts.add(upload(work, l11, e, bk, bk));
            if (rest > 0) {
                NDArray l21;
                try (NDArray a21 = trailing.get(new NDIndex(":, " + bk + ":, 0:" + bk)); NDArray it = inv.transpose(0, 2, 1)) {
                    l21 = a21.matMul(it); // A21 L11^-T
                }
                parts.add(l21);
                NDArray next;
                try (NDArray a22 = trailing.get(new NDIndex(":, " + bk + ":, " + bk + ":")); NDArray lt = l21.transpose(0, 2, 1);
                     NDArray p = l21.matMul(lt)) {
                    next = a22.sub(p);
                }
                if (trailing != a) {
                    trailing.close();
                }
                trailing = next;
            }
            columns.add(parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 1));
            if (parts.size() > 1) {
                parts.close();
            }
        }
        if (trailing != a) {
            trailing.close();
        }
        if (columns.size() == 1) {
            return columns.get(0);
        }
        NDArray lower = NDArrays.concat(columns, 2);
        columns.close();
        return lower;
    }

    /**
     * Lower Cholesky factor of a symmetric [n, n] row-major block, in double; {@code offset} (the block's place in a
     * {@code total}-wide matrix) and {@code matrix} (its index in a batch, -1 for none) are for the message.
     */
    static double[] hostCholesky(double[] a, int n, int offset, int total, int matrix) {
        double[] l = new double[n * n];
        for (int j = 0; j < n; j++) {
            double d = a[j * n + j];
            for (int k = 0; k < j; k++) {
                d -= l[j * n + k] * l[j * n + k];
            }
            if (!(d > 0)) {
                throw new Linalg.NotPositiveDefiniteException("Cholesky of a " + total + "x" + total + " matrix" + (matrix >= 0 ? " (number " + matrix
                        + " of the batch)" : "") + " failed: leading minor "
                        + (offset + j + 1) + " is not positive definite");
            }
            double ljj = Math.sqrt(d);
            l[j * n + j] = ljj;
            for (int i = j + 1; i < n; i++) {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) {
                    s -= l[i * n + k] * l[j * n + k];
                }
                l[i * n + j] = s / ljj;
            }
        }
        return l;
    }

    /** Inverse of a lower-triangular [n, n] row-major matrix with a non-zero diagonal, by forward substitution. */
    static double[] lowerInverse(double[] l, int n) {
        double[] x = new double[n * n];
        for (int c = 0; c < n; c++) { // column c of X solves L x = e_c; x[i] = 0 for i < c
            x[c * n + c] = 1 / l[c * n + c];
            for (int i = c + 1; i < n; i++) {
                double s = 0;
                for (int k = c; k < i; k++) {
                    s += l[i * n + k] * x[k * n + c];
                }
                x[i * n + c] = -s / l[i * n + i];
            }
        }
        return x;
    }

}
