package dev.moekit.quantize;

import dev.moekit.toolkit.linalg.Linalg;

/**
 * GPTQ's proxy Hessian of a linear layer's reconstruction loss, {@code H = 2/N X^T X}, accumulated from batches of
 * the layer's input rows {@code X} [N, in] (Frantar et al., "GPTQ", arXiv 2210.17323, eq. 1-2).
 *
 * <p>The reference ({@code GPTQ.add_batch}) scales by the number of sequences rather than tokens; the result differs
 * only by a positive factor, which GPTQ's relative damping and updates cancel exactly.
 */
public final class Hessian implements AutoCloseable {
    private final Linalg.Gram gram;
    private final int columns;
    private long rows;

    public Hessian(int columns, Linalg linalg) {
        this.columns = columns;
        this.gram = linalg.gram(columns);
    }

    /** Adds {@code n} input rows, {@code x} [n, columns] row-major. */
    public void addBatch(float[] x, int n) {
        if (n <= 0) {
            return;
        }
        if (x.length < (long) n * columns) {
            throw new IllegalArgumentException("calibration batch has " + x.length + " values, expected " + n + "x" + columns);
        }
        gram.add(x, n);
        rows += n;
    }

    /** Calibration rows (tokens) seen so far. */
    public long rows() {
        return rows;
    }

    public int columns() {
        return columns;
    }

    /** {@code 2/N X^T X} [columns, columns], row-major (all zeros before any batch). */
    public float[] matrix() {
        return gram.toArray(rows == 0 ? 0f : (float) (2.0 / rows));
    }

    /** The diagonal of {@link #matrix()}, {@code 2 E[x_j^2]} [columns]. */
    public float[] diagonal() {
        float[] h = matrix();
        float[] d = new float[columns];
        for (int j = 0; j < columns; j++) {
            d[j] = h[j * columns + j];
        }
        return d;
    }

    @Override
    public void close() {
        gram.close();
    }
}
