package dev.moekit.quantize.method;

import dev.moekit.quantize.Grid;
import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import java.util.stream.IntStream;

/**
 * Refits the group grids of a GPTQ result to the codes GPTQ chose, for the least layer-output error
 * {@code e^T H e} of every row ({@code e = w - v}, {@code w} the original row, {@code v} what the stored row
 * dequantizes to, {@code H} the calibration Hessian damped as GPTQ damps it).
 *
 * <p>GPTQ fixes each group's grid from the weights as they stand when the group starts, before the error feedback of
 * the group's own columns moves them; with few levels (2 and 3 bits) the grid it rounds to is then not the one its
 * codes call for. With the codes fixed, a row's values are linear in its grid parameters ({@code v_j = s_g (q_j -
 * z_g)}, or {@code s_g q_j - m_g} for schemes with minimums; zero points stay), so the error is a quadratic in them.
 * It is minimised by block coordinate descent over the groups (Gauss-Seidel, {@link #SWEEPS} sweeps): group
 * {@code g}'s exact minimiser given the others is a 1x1 or 2x2 system in {@code A_g^T H_gg A_g} and the group's slice
 * of {@code P = E H}. {@code P} is formed for about {@link #BLOCK_COLUMNS} columns at a time by one matrix product
 * {@code E H[:, block]} and kept current inside the block by {@code dE_g H[g, block]} after each group, for all rows
 * at once. A sweep costs about what GPTQ's own updates cost ({@code rows * cols^2} multiply-adds, in
 * {@link Linalg#matmul} products), not a dense solve per row.
 *
 * <p>The refitted scales are then stored as the scheme stores them (rounded to the scale dtype, or re-encoded as
 * k-quant codes of an fp16 super-block scale, the best of a few super-block scales per row), and a row keeps its new
 * grid only if its stored values have less error than before, so a refit never makes a row worse on the objective GPTQ minimises.
 */
public final class GridRefit {
    private GridRefit() {}

    /** Gauss-Seidel sweeps over the groups. */
    static final int SWEEPS = 10;

    /** k-quant super-block scales tried around {@code max scale / max code} when the refitted grids are stored. */
    private static final float[] STRETCHES = {1f, 0.97f, 1.03f};

    /** About this many columns' slice of {@code E H} is formed at once and kept current group by group. */
    private static final int BLOCK_COLUMNS = 128;

    /**
     * @param w          original weight [rows, cols]
     * @param h          calibration Hessian [cols, cols] (undamped; damped here as GPTQ damps it)
     * @param q          GPTQ's result
     * @param scaleType  the dtype float scales are stored in
     * @param damp       GPTQ's damping, a fraction of the mean diagonal
     */
    public static QuantizedMatrix refit(float[] w, float[] h, QuantizedMatrix q, DType scaleType, double damp, Linalg la) {
        int rows = q.rows();
        int cols = q.cols();
        QuantScheme s = q.scheme();
        int groups = q.groups();
        boolean mins = s.hasMins();
        float[] hd = damped(h, cols, damp);
        int[][] members = members(q);
        float[] e = residual(w, q.dequantize());
        double[] best = rowDots(e, la.matmul(e, hd, rows, cols, cols), rows, cols); // e^T H e per row, GPTQ's grids
        double[] sc = new double[rows * groups];
        double[] mn = mins ? new double[rows * groups] : null;
        for (int i = 0; i < sc.length; i++) {
            sc[i] = q.scales()[i];
            if (mins) {
                mn[i] = q.mins()[i];
            }
        }
        int per = Math.max(1, BLOCK_COLUMNS * groups / cols); // groups per block
        for (int sweep = 0; sweep < SWEEPS; sweep++) {
            for (int g0 = 0; g0 < groups; g0 += per) {
                int g1 = Math.min(groups, g0 + per);
                int[] bc = blockColumns(members, g0, g1);
                int nb = bc.length;
                int[] pos = new int[cols];
                for (int i = 0; i < nb; i++) {
                    pos[bc[i]] = i;
                }
                float[] hcols = new float[cols * nb]; // H[:, block]
                for (int j = 0; j < cols; j++) {
                    for (int i = 0; i < nb; i++) {
                        hcols[j * nb + i] = hd[j * cols + bc[i]];
                    }
                }
                float[] pb = la.matmul(e, hcols, rows, cols, nb); // (E H)[:, block], kept current inside the block
                for (int g = g0; g < g1; g++) {
                    int[] js = members[g];
                    int gw = js.length;
                    float[] hg = new float[gw * nb]; // H[g, block]
                    float[] hgg = new float[gw * gw];
                    double[] h1 = new double[gw]; // H_gg 1: the same for every row
                    for (int a = 0; a < gw; a++) {
                        for (int i = 0; i < nb; i++) {
                            hg[a * nb + i] = hd[js[a] * cols + bc[i]];
                        }
                        for (int b = 0; b < gw; b++) {
                            hgg[a * gw + b] = hd[js[a] * cols + js[b]];
                            h1[a] += hd[js[a] * cols + js[b]];
                        }
                    }
                    float[] de = new float[rows * gw];
                    int gg = g;
                    IntStream.range(0, rows).parallel().forEach(r -> step(r, gg, js, q, hgg, h1, pb, nb, pos, e, cols, groups, sc, mn, de));
                    float[] dp = la.matmul(de, hg, rows, gw, nb);
                    for (int i = 0; i < pb.length; i++) {
                        pb[i] += dp[i];
                    }
                }
            }
        }
        float[] scales = q.scales().clone();
        float[] mnOut = mins ? q.mins().clone() : null;
        for (float stretch : s.quantizedScales() ? STRETCHES : new float[] {1f}) {
            QuantizedMatrix cand = stored(q, sc, mn, scaleType, stretch);
            float[] e2 = residual(w, cand.dequantize());
            double[] after = rowDots(e2, la.matmul(e2, hd, rows, cols, cols), rows, cols);
            for (int r = 0; r < rows; r++) {
                if (after[r] < best[r]) {
                    best[r] = after[r];
                    System.arraycopy(cand.scales(), r * groups, scales, r * groups, groups);
                    if (mins) {
                        System.arraycopy(cand.mins(), r * groups, mnOut, r * groups, groups);
                    }
                }
            }
        }
        return new QuantizedMatrix(rows, cols, s, q.codes(), scales, q.zeros(), q.gIdx(), mnOut);
    }

    /**
     * Group {@code g} of row {@code r}: the exact minimiser of the row's error over the group's scale (and minimum),
     * the others fixed; applies it to the parameters and the residual and writes the residual's change to {@code de}.
     */
    private static void step(int r, int g, int[] js, QuantizedMatrix q, float[] hgg, double[] h1, float[] pb, int nb, int[] pos, float[] e,
                             int cols, int groups, double[] sc, double[] mn, float[] de) {
        int gw = js.length;
        boolean mins = mn != null;
        double[] a = new double[gw];
        for (int k = 0; k < gw; k++) {
            a[k] = q.code(r, js[k]) - (mins ? 0 : q.zero(r, g));
        }
        // M = A^T Hgg A, b = A^T P[r, g] with A = [a, -1]: the descent step for (s, m) on e^T H e, e = w - (s a - m)
        double maa = 0;
        double ma1 = 0;
        double m11 = 0;
        double ba = 0;
        double b1 = 0;
        for (int k = 0; k < gw; k++) {
            double hk = 0;
            for (int l = 0; l < gw; l++) {
                hk += hgg[k * gw + l] * a[l];
            }
            maa += a[k] * hk;
            ma1 += a[k] * h1[k];
            m11 += h1[k];
            double pk = pb[r * nb + pos[js[k]]];
            ba += a[k] * pk;
            b1 += pk;
        }
        double ds;
        double dm = 0;
        if (mins) { // [maa, -ma1; -ma1, m11] [ds; dm] = [ba; -b1]
            double det = maa * m11 - ma1 * ma1;
            if (!(det > 1e-12 * Math.max(maa * m11, 1e-30))) {
                return;
            }
            ds = (ba * m11 - ma1 * b1) / det;
            dm = (maa * -b1 + ma1 * ba) / det;
        } else {
            if (!(maa > 0)) {
                return;
            }
            ds = ba / maa;
        }
        int at = r * groups + g;
        sc[at] += ds;
        if (mins) {
            mn[at] += dm;
        }
        for (int k = 0; k < gw; k++) {
            float d = (float) -(ds * a[k] - dm); // e = w - v, v += ds a - dm
            de[r * gw + k] = d;
            e[r * cols + js[k]] += d;
        }
    }

    /** The grids as the scheme stores them: float scales in {@code scaleType}, or k-quant super-blocks re-encoded. */
    private static QuantizedMatrix stored(QuantizedMatrix q, double[] sc, double[] mn, DType scaleType, float stretch) {
        QuantScheme s = q.scheme();
        int rows = q.rows();
        int groups = q.groups();
        float[] scales = new float[sc.length];
        float[] mins = mn == null ? null : new float[mn.length];
        if (!s.quantizedScales()) {
            for (int i = 0; i < sc.length; i++) {
                scales[i] = sc[i] > 0 ? Grid.storable((float) sc[i], scaleType) : q.scales()[i];
            }
        } else {
            int per = QuantScheme.SUPER_BLOCK / s.groupSize();
            float[] fs = new float[per];
            float[] fm = new float[per];
            for (int r = 0; r < rows; r++) {
                for (int b0 = 0; b0 < groups; b0 += per) {
                    for (int i = 0; i < per; i++) {
                        fs[i] = (float) Math.max(sc[r * groups + b0 + i], 0);
                        fm[i] = mn == null ? 0f : (float) Math.max(mn[r * groups + b0 + i], 0);
                    }
                    KGrid.Block kb = KGrid.encode(s, fs, fm, stretch);
                    System.arraycopy(kb.scales(), 0, scales, r * groups + b0, per);
                    if (mins != null) {
                        System.arraycopy(kb.mins(), 0, mins, r * groups + b0, per);
                    }
                }
            }
        }
        return new QuantizedMatrix(rows, q.cols(), s, q.codes(), scales, q.zeros(), q.gIdx(), mins);
    }

    static float[] damped(float[] h, int cols, double damp) {
        double mean = 0;
        for (int j = 0; j < cols; j++) {
            mean += h[j * cols + j];
        }
        float[] hd = h.clone();
        float dv = (float) (damp * mean / cols);
        for (int j = 0; j < cols; j++) {
            hd[j * cols + j] += dv;
        }
        return hd;
    }

    /** The columns of groups {@code [g0, g1)}. */
    private static int[] blockColumns(int[][] members, int g0, int g1) {
        int n = 0;
        for (int g = g0; g < g1; g++) {
            n += members[g].length;
        }
        int[] bc = new int[n];
        int at = 0;
        for (int g = g0; g < g1; g++) {
            System.arraycopy(members[g], 0, bc, at, members[g].length);
            at += members[g].length;
        }
        return bc;
    }

    /** The input columns of each group, in column order. */
    private static int[][] members(QuantizedMatrix q) {
        int groups = q.groups();
        int[] count = new int[groups];
        for (int j = 0; j < q.cols(); j++) {
            count[q.group(j)]++;
        }
        int[][] m = new int[groups][];
        for (int g = 0; g < groups; g++) {
            m[g] = new int[count[g]];
            count[g] = 0;
        }
        for (int j = 0; j < q.cols(); j++) {
            int g = q.group(j);
            m[g][count[g]++] = j;
        }
        return m;
    }

    static float[] residual(float[] w, float[] v) {
        float[] e = new float[w.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = w[i] - v[i];
        }
        return e;
    }

    /** {@code sum_k x[r, k] y[r, k]} per row. */
    static double[] rowDots(float[] x, float[] y, int rows, int cols) {
        double[] d = new double[rows];
        IntStream.range(0, rows).parallel().forEach(r -> {
            double sum = 0;
            for (int k = r * cols; k < (r + 1) * cols; k++) {
                sum += (double) x[k] * y[k];
            }
            d[r] = sum;
        });
        return d;
    }
}
