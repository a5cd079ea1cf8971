package dev.moekit.quantize.method;

import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import java.util.stream.IntStream;

/**
 * Refits the group grids of a GPTQ result to the codes GPTQ chose, for the least layer-output error
 * {@code (w - v)^T H (w - v)} of every row ({@code w} the original row, {@code v} what the stored row dequantizes to,
 * {@code H} the damped calibration Hessian GPTQ used).
 *
 * <p>GPTQ fixes each group's grid from the weights as they stand when the group starts, before the error feedback of
 * the group's own columns moves them; with few levels (2 and 3 bits) the grid it rounds to is then not the one its
 * codes call for. With the codes fixed the row's values are linear in the grid parameters ({@code v_j = s_g (q_j -
 * z_g)}, or {@code s_g q_j - m_g} for schemes with minimums), so the best grid solves one small linear system per row
 * (two unknowns per group with minimums, else one; zero points stay). The refitted scales are then stored as the scheme
 * stores them (rounded to the scale dtype, or as k-quant codes of an fp16 super-block scale, whose rounding is searched
 * at a few nearby super-block scales), and a row keeps its new grid only if its stored values have less error than the
 * old ones, so a refit never makes a row worse on the objective GPTQ minimises.
 */
final class GridRefit {
    private GridRefit() {}

    private static final float[] D_TRIES = {1f, 0.96f, 0.98f, 1.02f, 1.04f};

    /**
     * @param w          original weight [rows, cols]
     * @param h          calibration Hessian [cols, cols] (undamped; damped here as GPTQ damps it)
     * @param q          GPTQ's result
     * @param scaleType  the dtype float scales are stored in
     * @param damp       GPTQ's damping, a fraction of the mean diagonal
     */
    static QuantizedMatrix refit(float[] w, float[] h, QuantizedMatrix q, DType scaleType, double damp) {
        int rows = q.rows();
        int cols = q.cols();
        QuantScheme s = q.scheme();
        int groups = q.groups();
        double mean = 0;
        for (int j = 0; j < cols; j++) {
            mean += h[j * cols + j];
        }
        float[] hd = h.clone();
        float dv = (float) (damp * mean / cols);
        for (int j = 0; j < cols; j++) {
            hd[j * cols + j] += dv;
        }
        int[] grp = new int[cols];
        for (int j = 0; j < cols; j++) {
            grp[j] = q.group(j);
        }
        boolean mins = s.hasMins();
        // row-independent parts of the minimum terms: HB[g][k] = sum_{j in g} H[j][k]
        double[][] hb = null;
        if (mins) {
            hb = new double[groups][cols];
            for (int j = 0; j < cols; j++) {
                double[] t = hb[grp[j]];
                for (int k = 0; k < cols; k++) {
                    t[k] += hd[j * cols + k];
                }
            }
        }
        float[] scales = q.scales().clone();
        float[] mn = mins ? q.mins().clone() : null;
        double[][] hbf = hb;
        IntStream.range(0, rows).parallel().forEach(r -> refitRow(r, w, hd, q, grp, hbf, scaleType, scales, mn));
        return new QuantizedMatrix(rows, cols, s, q.codes(), scales, q.zeros(), q.gIdx(), mn);
    }

    private static void refitRow(int r, float[] w, float[] h, QuantizedMatrix q, int[] grp, double[][] hb, DType scaleType, float[] scales, float[] mn) {
        int cols = q.cols();
        int groups = q.groups();
        QuantScheme s = q.scheme();
        boolean mins = mn != null;
        int n = mins ? 2 * groups : groups;
        double[] a = new double[cols]; // the code part of each value: q_j - z_g, or q_j with minimums
        for (int j = 0; j < cols; j++) {
            a[j] = q.code(r, j) - (mins ? 0 : q.zero(r, grp[j]));
        }
        // HA[g][k] = sum_{j in g} a_j H[j][k]; then G = A^T H A and c = A^T H w
        double[][] ha = new double[groups][cols];
        for (int j = 0; j < cols; j++) {
            if (a[j] == 0) {
                continue;
            }
            double[] t = ha[grp[j]];
            double aj = a[j];
            int base = j * cols;
            for (int k = 0; k < cols; k++) {
                t[k] += aj * h[base + k];
            }
        }
        double[][] g = new double[n][n];
        double[] c = new double[n];
        int wr = r * cols;
        for (int g2 = 0; g2 < groups; g2++) {
            double[] t = ha[g2];
            double cs = 0;
            for (int k = 0; k < cols; k++) {
                g[grp[k]][g2] += a[k] * t[k];
                cs += t[k] * w[wr + k];
            }
            c[g2] = cs;
            if (mins) {
                double[] u = hb[g2];
                double cm = 0;
                for (int k = 0; k < cols; k++) {
                    g[groups + grp[k]][groups + g2] += u[k];
                    g[grp[k]][groups + g2] -= a[k] * u[k];
                    cm -= u[k] * w[wr + k];
                }
                c[groups + g2] = cm;
            }
        }
        if (mins) {
            for (int i = 0; i < groups; i++) {
                for (int k = 0; k < groups; k++) {
                    g[groups + k][i] = g[i][groups + k];
                }
            }
        }
        double[] old = new double[n];
        for (int i = 0; i < groups; i++) {
            old[i] = q.scale(r, i);
            if (mins) {
                old[groups + i] = q.min(r, i);
            }
        }
        double[] theta = solve(g, c);
        if (theta == null) {
            return;
        }
        double[] stored = store(theta, old, s, groups, scaleType, g, c);
        if (objective(g, c, stored) < objective(g, c, old)) {
            for (int i = 0; i < groups; i++) {
                scales[r * groups + i] = (float) stored[i];
                if (mins) {
                    mn[r * groups + i] = (float) stored[groups + i];
                }
            }
        }
    }

    /** {@code theta^T G theta - 2 theta^T c}: the row's error up to the constant {@code w^T H w}. */
    private static double objective(double[][] g, double[] c, double[] theta) {
        double e = 0;
        for (int i = 0; i < theta.length; i++) {
            double gi = 0;
            for (int k = 0; k < theta.length; k++) {
                gi += g[i][k] * theta[k];
            }
            e += theta[i] * gi - 2 * theta[i] * c[i];
        }
        return e;
    }

    /**
     * The refitted grid as the scheme stores it: float scales rounded to {@code scaleType} (a non-positive scale keeps
     * the old one); k-quant super-blocks re-encoded with their fp16 super-block scale, the best of a few nearby ones.
     */
    private static double[] store(double[] theta, double[] old, QuantScheme s, int groups, DType scaleType, double[][] g, double[] c) {
        double[] out = theta.clone();
        boolean mins = s.hasMins();
        if (!s.quantizedScales()) {
            for (int i = 0; i < groups; i++) {
                out[i] = theta[i] > 0 ? dev.moekit.quantize.Grid.storable((float) theta[i], scaleType) : old[i];
            }
            return out;
        }
        int per = QuantScheme.SUPER_BLOCK / s.groupSize();
        for (int b0 = 0; b0 < groups; b0 += per) {
            float[] fs = new float[per];
            float[] fm = new float[per];
            for (int i = 0; i < per; i++) {
                fs[i] = (float) Math.max(theta[b0 + i], 0);
                fm[i] = mins ? (float) Math.max(theta[groups + b0 + i], 0) : 0f;
            }
            double best = Double.POSITIVE_INFINITY;
            double[] keep = null;
            for (float t : D_TRIES) {
                KGrid.Block kb = KGrid.encode(s, fs, fm, t);
                double[] trial = out.clone();
                for (int i = 0; i < per; i++) {
                    trial[b0 + i] = kb.scales()[i];
                    if (mins) {
                        trial[groups + b0 + i] = kb.mins()[i];
                    }
                }
                double e = objective(g, c, trial);
                if (e < best) {
                    best = e;
                    keep = trial;
                }
            }
            out = keep;
        }
        return out;
    }

    /** {@code G x = c} by Cholesky with a small ridge (groups of dead columns are singular); null if it fails. */
    private static double[] solve(double[][] g, double[] c) {
        int n = c.length;
        double tr = 0;
        for (int i = 0; i < n; i++) {
            tr += g[i][i];
        }
        double ridge = 1e-9 * Math.max(tr / n, 1e-30);
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = g[i][j] + (i == j ? ridge : 0);
                for (int k = 0; k < j; k++) {
                    sum -= l[i][k] * l[j][k];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        return null;
                    }
                    l[i][i] = Math.sqrt(sum);
                } else {
                    l[i][j] = sum / l[j][j];
                }
            }
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double sum = c[i];
            for (int k = 0; k < i; k++) {
                sum -= l[i][k] * y[k];
            }
            y[i] = sum / l[i][i];
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double sum = y[i];
            for (int k = i + 1; k < n; k++) {
                sum -= l[k][i] * x[k];
            }
            x[i] = sum / l[i][i];
        }
        return x;
    }
}
