package dev.moekit.quantize;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.toolkit.linalg.Linalg;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * GPTQ's proxy Hessian of a linear layer's reconstruction loss, {@code H = 2/N X^T X}, accumulated from batches of
 * the layer's input rows {@code X} [N, in] (Frantar et al., "GPTQ", arXiv 2210.17323, eq. 1-2).
 *
 * <p>The Gram {@code X^T X} lives either on the host ({@link Linalg#gram}, fed {@code float[]} rows) or, made with
 * {@link #onDevice}, as an fp32 NDArray on the runtime's device, fed the calibration's NDArrays directly (fp16 rows
 * are cast to fp32 before the product, so the sum is accumulated in fp32 either way) with no copy to the host per
 * batch. Both give the same matrix up to the order of fp32 sums; {@link #matrix()} and {@link #deviceMatrix} serve
 * either kind.
 *
 * <p>The reference ({@code GPTQ.add_batch}) scales by the number of sequences rather than tokens; the result differs
 * only by a positive factor, which GPTQ's relative damping and updates cancel exactly.
 */
public final class Hessian implements AutoCloseable {
    private final Linalg.Gram gram; // host Gram, or null
    private final NDArray device; // device Gram [columns, columns] fp32, or null
    private final int columns;
    private long rows;

    public Hessian(int columns, Linalg linalg) {
        this.columns = columns;
        this.gram = linalg.gram(columns);
        this.device = null;
    }

    private Hessian(int columns, NDManager manager) {
        this.columns = columns;
        this.gram = null;
        this.device = manager.zeros(new Shape(columns, columns), DataType.FLOAT32);
    }

    /** A Hessian accumulated on {@code manager}'s device (its Gram is an array of {@code manager}). */
    public static Hessian onDevice(int columns, NDManager manager) {
        return new Hessian(columns, manager);
    }

    /** Whether the Gram lives on a device ({@link #onDevice}). */
    public boolean onDevice() {
        return device != null;
    }

    /** Adds {@code n} input rows, {@code x} [n, columns] row-major. */
    public void addBatch(float[] x, int n) {
        if (n <= 0) {
            return;
        }
        if (x.length < (long) n * columns) {
            throw new IllegalArgumentException("calibration batch has " + x.length + " values, expected " + n + "x" + columns);
        }
        if (device != null) {
            try (NDArray a = upload(device.getManager(), x, n)) {
                addBatch(a, n);
            }
            return;
        }
        gram.add(x, n);
        rows += n;
    }

    /**
     * Adds the rows of {@code x} [N, columns] (any float dtype; the caller's array, not closed) of which {@code realRows}
     * count as tokens: rows that are padding must be zero in {@code x} (they then add nothing to {@code X^T X}). On a
     * device Hessian the product runs where {@code x} lives; a host Hessian copies {@code x} to the host.
     */
    public void addBatch(NDArray x, long realRows) {
        long[] s = x.getShape().getShape();
        if (s.length != 2 || s[1] != columns) {
            throw new IllegalArgumentException("calibration batch has shape " + x.getShape() + ", expected [n, " + columns + "]");
        }
        if (device == null) {
            float[] v = (x.getDataType() == DataType.FLOAT32 ? x.toFloatArray() : castCopy(x));
            if (realRows > 0) {
                gram.add(v, (int) s[0]);
            }
            rows += realRows;
            return;
        }
        if (realRows > 0) {
            NDArray f = x.getDataType() == DataType.FLOAT32 ? null : x.toType(DataType.FLOAT32, false);
            NDArray xf = f == null ? x : f;
            try (NDArray t = xf.transpose(); NDArray g = t.matMul(xf)) {
                device.addi(g);
            } finally {
                if (f != null) {
                    f.close();
                }
            }
        }
        rows += realRows;
    }

    private static float[] castCopy(NDArray x) {
        try (NDArray f = x.toType(DataType.FLOAT32, false)) {
            return f.toFloatArray();
        }
    }

    /** Calibration rows (tokens) seen so far. */
    public long rows() {
        return rows;
    }

    public int columns() {
        return columns;
    }

    private float scale() {
        return rows == 0 ? 0f : (float) (2.0 / rows);
    }

    /** {@code 2/N X^T X} [columns, columns], row-major (all zeros before any batch); copied from the device if it lives there. */
    public float[] matrix() {
        if (device != null) {
            try (NDArray h = device.mul(scale())) {
                return h.toFloatArray();
            }
        }
        return gram.toArray(scale());
    }

    /**
     * {@code 2/N X^T X} [columns, columns] fp32 as a new array of {@code target} (on its device): computed where the
     * Gram lives and moved if that is elsewhere, or uploaded from the host Gram.
     */
    public NDArray deviceMatrix(NDManager target) {
        if (device == null) {
            return upload(target, matrix(), columns);
        }
        NDArray h = device.mul(scale());
        if (!h.getDevice().equals(target.getDevice())) {
            NDArray moved = h.toDevice(target.getDevice(), true);
            h.close();
            h = moved;
        }
        h.attach(target);
        return h;
    }

    /** The diagonal of {@link #matrix()}, {@code 2 E[x_j^2]} [columns]. */
    public float[] diagonal() {
        if (device != null) {
            try (NDArray d = device.diagonal(); NDArray h = d.mul(scale())) {
                return h.toFloatArray();
            }
        }
        float[] h = matrix();
        float[] d = new float[columns];
        for (int j = 0; j < columns; j++) {
            d[j] = h[j * columns + j];
        }
        return d;
    }

    private NDArray upload(NDManager m, float[] x, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n * columns * Float.BYTES).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(x, 0, n * columns);
        return m.create(b, new Shape(n, columns), DataType.FLOAT32);
    }

    @Override
    public void close() {
        if (gram != null) {
            gram.close();
        }
        if (device != null) {
            device.close();
        }
    }
}
