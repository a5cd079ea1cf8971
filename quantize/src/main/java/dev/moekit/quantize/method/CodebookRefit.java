package dev.moekit.quantize.method;

import dev.moekit.quantize.Grid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.stream.IntStream;

/**
 * GPTVQ's codebook update (arXiv 2402.15319, section 3.3): once GPTQ has chosen every vector's code, the centroids
 * and the row scales are refitted to those codes for the objective GPTQ minimises, {@code sum_rows e H e^T} with
 * {@code e = w - scale * centroid[code]} and {@code H} the damped calibration Hessian.
 *
 * <p>Both are linear least squares with the other fixed: all centroids of all tiles at once from the normal equations
 * {@code (sum_r A_r^T H A_r) c = sum_r A_r^T H w_r} ({@code A_r} maps the centroid values to row r's weights through
 * its codes and scales; a small ridge towards the current values keeps unused centroids where they are), then each
 * row's tile scales from its own {@code tiles x tiles} system. {@link #ROUNDS} alternations; values are rounded to the
 * storage dtype, and a step is kept only where it lowers the objective (the centroids as a whole, the scales row by
 * row), so the update never makes the result worse than GPTQ's.
 */
public final class CodebookRefit {
    private CodebookRefit() {
    }

    /** Alternations of the centroid and scale fits. */
    static final int ROUNDS = 2;

    /**
     * Rows the centroids' normal equations are formed from at most ({@code rows x cols^2} scalar work otherwise): a
     * larger matrix fits its few centroid values on this many rows spread evenly over it, and the result is still
     * kept only if the error over all rows falls.
     */
    static final int MAX_ROWS = 512;

    /**
     * @param w         original weight [rows, cols]
     * @param h         calibration Hessian [cols, cols] (undamped; damped here as GPTQ damps it)
     * @param q         GPTQ's result under a codebook scheme
     * @param valueType the dtype centroids and scales are stored in
     * @param damp      GPTQ's damping, a fraction of the mean diagonal
     */
    public static QuantizedMatrix refit(float[] w, float[] h, QuantizedMatrix q, DType valueType, double damp, Linalg la) {
        QuantScheme s = q.scheme();
        if (!s.codebook()) {
            throw new IllegalArgumentException(s + " has no codebook to refit");
        }
        int rows = q.rows();
        int cols = q.cols();
        float[] hd = GridRefit.damped(h, cols, damp);
        QuantizedMatrix best = q;
        double[] err = rowErrors(w, best, hd, la);
        for (int round = 0; round < ROUNDS; round++) {
            QuantizedMatrix c = withCodebook(best, centroids(w, best, hd, valueType));
            double[] ce = rowErrors(w, c, hd, la);
            if (sum(ce) < sum(err)) {
                best = c;
                err = ce;
            }
            QuantizedMatrix sc = withScales(best, scales(w, best, hd, valueType, la));
            double[] se = rowErrors(w, sc, hd, la);
            float[] kept = best.scales().clone();
            int groups = best.groups();
            for (int r = 0; r < rows; r++) {
                if (se[r] < err[r]) {
                    System.arraycopy(sc.scales(), r * groups, kept, r * groups, groups);
                    err[r] = se[r];
                }
            }
            best = withScales(best, kept);
        }
        return best;
    }

    /** The least-squares centroids for the codes and scales of {@code q}. */
    private static float[] centroids(float[] w, QuantizedMatrix q, float[] hd, DType valueType) {
        int rows = q.rows();
        int cols = q.cols();
        int gw = q.scheme().groupWidth(cols);
        int p = q.codebook().length;
        double[] m = new double[p * p];
        double[] b = new double[p];
        int[] idx = new int[cols];
        double[] sj = new double[cols];
        double[] hw = new double[cols];
        int fitted = Math.min(rows, MAX_ROWS);
        for (int f = 0; f < fitted; f++) {
            int r = (int) ((long) f * rows / fitted); // evenly spread rows when there are more than MAX_ROWS
            for (int j = 0; j < cols; j++) {
                idx[j] = q.codebookIndex(r, j);
                sj[j] = q.scale(r, j / gw);
            }
            for (int j = 0; j < cols; j++) {
                double acc = 0;
                for (int t = 0; t < cols; t++) {
                    acc += hd[j * cols + t] * w[r * cols + t];
                }
                hw[j] = acc;
            }
            for (int j = 0; j < cols; j++) {
                b[idx[j]] += sj[j] * hw[j];
                int row = idx[j] * p;
                for (int t = 0; t < cols; t++) {
                    m[row + idx[t]] += sj[j] * sj[t] * hd[j * cols + t];
                }
            }
        }
        double mean = 0;
        for (int i = 0; i < p; i++) {
            mean += m[i * p + i];
        }
        double ridge = Math.max(1e-4 * mean / p, Double.MIN_NORMAL);
        float[] old = q.codebook();
        for (int i = 0; i < p; i++) {
            m[i * p + i] += ridge;
            b[i] += ridge * old[i];
        }
        double[] x = solve(m, b, p);
        float[] c = new float[p];
        for (int i = 0; i < p; i++) {
            float v = (float) x[i];
            c[i] = Float.isFinite(v) ? (v == 0f ? 0f : Math.signum(v) * Grid.storable(Math.abs(v), valueType)) : old[i];
        }
        return c;
    }

    /** Each row's least-squares tile scales for the codes and centroids of {@code q}; a row whose system fails keeps its own. */
    private static float[] scales(float[] w, QuantizedMatrix q, float[] hd, DType valueType, Linalg la) {
        int rows = q.rows();
        int cols = q.cols();
        int groups = q.groups();
        int gw = q.scheme().groupWidth(cols);
        float[] out = q.scales().clone();
        float[] u = new float[rows * cols]; // every row's centroid values (unscaled)
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                u[r * cols + j] = q.codebook()[q.codebookIndex(r, j)];
            }
        }
        float[][] hu = new float[groups][]; // U_g H per tile g, U_g the values of tile g only (H symmetric: (H u_g)^T)
        for (int g = 0; g < groups; g++) {
            float[] ug = groups == 1 ? u : new float[rows * cols];
            for (int r = 0; groups > 1 && r < rows; r++) {
                System.arraycopy(u, r * cols + g * gw, ug, r * cols + g * gw, Math.min(cols, (g + 1) * gw) - g * gw);
            }
            hu[g] = la.matmul(ug, hd, rows, cols, cols);
        }
        IntStream.range(0, rows).parallel().forEach(r -> {
            double[] a = new double[groups * groups]; // (U^T H U)[g, g'] = sum over j in g of u_j (H u_g')_j
            double[] b = new double[groups];
            for (int g2 = 0; g2 < groups; g2++) {
                for (int j = 0; j < cols; j++) {
                    double v = hu[g2][r * cols + j];
                    b[g2] += w[r * cols + j] * v;
                    a[(j / gw) * groups + g2] += u[r * cols + j] * v;
                }
            }
            double[] x = solve(a, b, groups);
            for (int g = 0; g < groups; g++) {
                if (x[g] > 0 && Double.isFinite(x[g])) {
                    out[r * groups + g] = Grid.storable((float) x[g], valueType);
                }
            }
        });
        return out;
    }

    /** Solves the symmetric positive definite {@code a x = b} by Cholesky ({@code a} is overwritten); NaN where it is not definite. */
    static double[] solve(double[] a, double[] b, int n) {
        for (int j = 0; j < n; j++) {
            double diag = a[j * n + j];
            for (int t = 0; t < j; t++) {
                diag -= a[j * n + t] * a[j * n + t];
            }
            if (!(diag > 0)) {
                double[] nan = new double[n];
                java.util.Arrays.fill(nan, Double.NaN);
                return nan;
            }
            double l = Math.sqrt(diag);
            a[j * n + j] = l;
            int jj = j;
            IntStream.range(j + 1, n).parallel().forEach(i -> {
                double v = a[i * n + jj];
                for (int t = 0; t < jj; t++) {
                    v -= a[i * n + t] * a[jj * n + t];
                }
                a[i * n + jj] = v / l;
            });
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double v = b[i];
            for (int t = 0; t < i; t++) {
                v -= a[i * n + t] * y[t];
            }
            y[i] = v / a[i * n + i];
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double v = y[i];
            for (int t = i + 1; t < n; t++) {
                v -= a[t * n + i] * x[t];
            }
            x[i] = v / a[i * n + i];
        }
        return x;
    }

    private static QuantizedMatrix withCodebook(QuantizedMatrix q, float[] c) {
        return new QuantizedMatrix(q.rows(), q.cols(), q.scheme(), q.codes(), q.scales(), q.zeros(), null, null, c);
    }

    private static QuantizedMatrix withScales(QuantizedMatrix q, float[] sc) {
        return new QuantizedMatrix(q.rows(), q.cols(), q.scheme(), q.codes(), sc, q.zeros(), null, null, q.codebook());
    }

    /** {@code e H e^T} per row. */
    private static double[] rowErrors(float[] w, QuantizedMatrix q, float[] hd, Linalg la) {
        float[] e = GridRefit.residual(w, q.dequantize());
        return GridRefit.rowDots(e, la.matmul(e, hd, q.rows(), q.cols(), q.cols()), q.rows(), q.cols());
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }
}
