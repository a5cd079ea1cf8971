package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorInfo;
import java.nio.file.Path;
import java.util.Random;

/** Real weights from the shared reference checkpoints, and synthetic correlated activations. */
public final class TestWeights {
    public static final Path MIXTRAL = Path.of(System.getProperty("moekit.shared", "../../shared"), "models", "mixtral-tiny");
    public static final Path QWEN = MIXTRAL.resolveSibling("qwen2moe-tiny");

    /** A weight matrix with shape [rows, cols] (the first such tensor in name order) and its name. */
    public record Matrix(String name, float[] w, int rows, int cols) {}

    public static Matrix first(int rows, int cols) {
        try (Checkpoint c = Checkpoint.open(MIXTRAL)) {
            for (String n : c.names().stream().sorted().toList()) {
                TensorInfo t = c.info(n);
                if (t.rank() == 2 && t.dim(0) == rows && t.dim(1) == cols) {
                    return new Matrix(n, c.floats(n), rows, cols);
                }
            }
        }
        throw new AssertionError("mixtral-tiny has no [" + rows + ", " + cols + "] tensor");
    }

    /**
     * Correlated inputs X [n, cols] = Z A + per-column scale: Z Gaussian [n, cols], A a random mixing matrix with a
     * strong diagonal, columns scaled by log-normal factors (outlier channels, as real activations have).
     */
    public static float[] correlatedInputs(int n, int cols, long seed) {
        Random r = new Random(seed);
        float[] a = new float[cols * cols];
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                a[i * cols + j] = (float) (r.nextGaussian() * 0.3 + (i == j ? 1 : 0));
            }
        }
        float[] colScale = new float[cols];
        for (int j = 0; j < cols; j++) {
            colScale[j] = (float) Math.exp(r.nextGaussian());
        }
        float[] x = new float[n * cols];
        float[] z = new float[cols];
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < cols; k++) {
                z[k] = (float) r.nextGaussian();
            }
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int k = 0; k < cols; k++) {
                    s += z[k] * a[k * cols + j];
                }
                x[t * cols + j] = (float) (s * colScale[j]);
            }
        }
        return x;
    }

    /** The Hessian {@code 2/n X^T X} [cols, cols] of inputs {@code x} [n, cols], as GPTQ accumulates it. */
    public static float[] hessian(float[] x, int n, int cols, dev.moekit.toolkit.linalg.Linalg la) {
        try (Hessian hs = new Hessian(cols, la)) {
            hs.addBatch(x, n);
            return hs.matrix();
        }
    }

    /** ||(W - Q) X^T||_F^2 for W, Q [rows, cols] and X [n, cols]. */
    public static double outputError(float[] w, float[] q, int rows, int cols, float[] x, int n) {
        double sum = 0;
        double[] d = new double[cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                d[j] = w[i * cols + j] - q[i * cols + j];
            }
            for (int t = 0; t < n; t++) {
                double s = 0;
                for (int j = 0; j < cols; j++) {
                    s += d[j] * x[t * cols + j];
                }
                sum += s * s;
            }
        }
        return sum;
    }

    private TestWeights() {
    }
}
