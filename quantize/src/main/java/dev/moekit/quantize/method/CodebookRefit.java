package dev.moekit.quantize.method;

import dev.moekit.quantize.Codebooks;
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
 * <p>Both are linear least squares with the other fixed: the centroids from the normal equations
 * {@code (sum_r A_r^T H A_r) c = sum_r A_r^T H w_r} ({@code A_r} maps the centroid values to row r's weights through
 * its codes and scales; a small ridge towards the current values keeps unused centroids where they are), jointly or,
 * for many tiles, tile by tile ({@link #MAX_JOINT}), then each
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

    /** Centroid values fitted as one system at most (a per-channel vq4 codebook has 1024); more are fitted tile by tile. */
    static final int MAX_JOINT = 1024;

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
            QuantizedMatrix c = withCodebook(best, centroids(w, best, hd, valueType, la));
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

    /**
     * The least-squares centroids for the codes and scales of {@code q}, as a Newton step from its own: with the
     * residual {@code R = W - Q} over the fitted rows, {@code (M + ridge) delta = sum_r A_r^T H R_r}, the gradient from
     * one matrix product. {@code M = sum_r A_r^T H A_r} is formed jointly over all centroid values when there are at
     * most {@link #MAX_JOINT} of them (one tile per row: the per-channel schemes), otherwise tile by tile, each tile's
     * system from its own columns (the coupling between tiles dropped, a block-Jacobi step; the step is kept only if
     * the error falls, as every step is).
     */
    private static float[] centroids(float[] w, QuantizedMatrix q, float[] hd, DType valueType, Linalg la) {
        int rows = q.rows();
        int cols = q.cols();
        int gw = q.scheme().groupWidth(cols);
        int perTile = q.scheme().codebookSize() * q.scheme().vectorDim();
        float[] old = q.codebook();
        int p = old.length;
        int fitted = Math.min(rows, MAX_ROWS);
        int[] pick = new int[fitted];
        for (int f = 0; f < fitted; f++) {
            pick[f] = (int) ((long) f * rows / fitted); // evenly spread rows when there are more than MAX_ROWS
        }
        float[] dq = q.dequantize();
        float[] res = new float[fitted * cols];
        int[] idx = new int[fitted * cols];
        float[] sj = new float[fitted * cols];
        for (int f = 0; f < fitted; f++) {
            int r = pick[f];
            for (int j = 0; j < cols; j++) {
                res[f * cols + j] = w[r * cols + j] - dq[r * cols + j];
                idx[f * cols + j] = q.codebookIndex(r, j);
                sj[f * cols + j] = q.scale(r, j / gw);
            }
        }
        float[] rh = la.matmul(res, hd, fitted, cols, cols); // R H (H symmetric)
        double[] grad = new double[p];
        for (int k = 0; k < fitted * cols; k++) {
            grad[idx[k]] += sj[k] * rh[k];
        }
        float[] c = old.clone();
        boolean joint = p <= MAX_JOINT;
        for (int lo = 0; lo < p; lo += joint ? p : perTile) {
            int n = joint ? p : perTile;
            int c0 = joint ? 0 : (lo / perTile) * gw; // the block's columns
            int c1 = joint ? cols : Math.min(cols, c0 + gw);
            double[] m = normalMatrix(idx, sj, hd, fitted, cols, lo, n, c0, c1);
            double mean = 0;
            for (int i = 0; i < n; i++) {
                mean += m[i * n + i];
            }
            double ridge = Math.max(1e-4 * mean / n, Double.MIN_NORMAL);
            for (int i = 0; i < n; i++) {
                m[i * n + i] += ridge;
            }
            double[] delta = solve(m, java.util.Arrays.copyOfRange(grad, lo, lo + n), n);
            for (int i = 0; i < n; i++) {
                float v = (float) (old[lo + i] + delta[i]);
                c[lo + i] = Float.isFinite(v) ? Codebooks.round(v, valueType) : old[lo + i];
            }
        }
        return c;
    }

    /**
     * {@code sum_r A_r^T H A_r} restricted to the centroid values {@code [lo, lo+n)} and the columns {@code [c0, c1)}:
     * entry {@code (a, b)} sums {@code s_j s_t H[j, t]} over the fitted rows' column pairs coded {@code a} and
     * {@code b}. Each fitted row's columns are bucketed by value, and the rows of the matrix are filled in parallel,
     * each by the thread that owns its value (no shared accumulator).
     */
    private static double[] normalMatrix(int[] idx, float[] sj, float[] hd, int fitted, int cols, int lo, int n, int c0, int c1) {
        int w = c1 - c0;
        int[] start = new int[fitted * (n + 1)]; // per fitted row, bucket offsets into order
        int[] order = new int[fitted * w];
        for (int f = 0; f < fitted; f++) {
            int sb = f * (n + 1);
            for (int j = c0; j < c1; j++) {
                start[sb + idx[f * cols + j] - lo + 1]++;
            }
            for (int a = 0; a < n; a++) {
                start[sb + a + 1] += start[sb + a];
            }
            int[] fill = java.util.Arrays.copyOfRange(start, sb, sb + n);
            for (int j = c0; j < c1; j++) {
                order[f * w + fill[idx[f * cols + j] - lo]++] = j;
            }
        }
        double[] m = new double[n * n];
        IntStream.range(0, n).parallel().forEach(a -> {
            int row = a * n - lo;
            for (int f = 0; f < fitted; f++) {
                int sb = f * (n + 1);
                int fo = f * cols;
                for (int o = start[sb + a]; o < start[sb + a + 1]; o++) {
                    int j = order[f * w + o];
                    double s = sj[fo + j];
                    int hj = j * cols;
                    for (int t = c0; t < c1; t++) {
                        m[row + idx[fo + t]] += s * sj[fo + t] * hd[hj + t];
                    }
                }
            }
        });
        return m;
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
