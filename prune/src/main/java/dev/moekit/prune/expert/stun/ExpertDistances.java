package dev.moekit.prune.expert.stun;

/**
 * Pairwise expert distance matrices for STUN's clustering, computed in fp64. Diagonals are 0 here; the clustering
 * ignores them.
 */
final class ExpertDistances {
    private ExpertDistances() {}

    /**
     * Router-row distances D_ij = ||W_r[i] - W_r[j]||_2, divided by the Frobenius norm ||W_r||_F when
     * {@code divideByNorm} (the reference default, which makes one threshold comparable across layers).
     *
     * @param router [E, hidden] router weight, row-major
     */
    static double[][] router(float[] router, int experts, int hidden, boolean divideByNorm) {
        if (router.length != (long) experts * hidden) {
            throw new IllegalArgumentException("router has " + router.length + " values, expected " + experts + " x " + hidden);
        }
        double[][] d = new double[experts][experts];
        double frob = 0;
        for (float v : router) {
            frob += (double) v * v;
        }
        frob = Math.sqrt(frob);
        double div = divideByNorm && frob > 0 ? frob : 1;
        for (int i = 0; i < experts; i++) {
            for (int j = i + 1; j < experts; j++) {
                double s = 0;
                for (int h = 0; h < hidden; h++) {
                    double t = (double) router[i * hidden + h] - router[j * hidden + h];
                    s += t * t;
                }
                d[i][j] = d[j][i] = Math.sqrt(s) / div;
            }
        }
        return d;
    }

    /**
     * Co-activation "distance" -a_ij: with {@link CoactivationNorm#MIN_COUNT} a_ij = C_ij / min(n_i, n_j) (0 where
     * either count is 0), with {@link CoactivationNorm#MEAN} a_ij = C_ij / mean|C| over all E x E entries (diagonal
     * zero), as the reference's {@code --divide_mean}. An all-zero C (no calibration tokens) yields all zeros.
     *
     * @param counts [E] routed-token counts n (read by MIN_COUNT only)
     */
    static double[][] coactivation(long[][] c, long[] counts, CoactivationNorm norm) {
        double[][] a = normalised(c, counts, norm);
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                a[i][j] = i == j ? 0 : -a[i][j];
            }
        }
        return a;
    }

    /** a_ij >= 0 of {@link #coactivation}, zero diagonal. */
    static double[][] normalised(long[][] c, long[] counts, CoactivationNorm norm) {
        int e = c.length;
        double[][] a = new double[e][e];
        if (norm == CoactivationNorm.MIN_COUNT) {
            if (counts.length != e) {
                throw new IllegalArgumentException("co-activation has " + e + " rows but " + counts.length + " counts");
            }
            for (int i = 0; i < e; i++) {
                for (int j = 0; j < e; j++) {
                    long m = Math.min(counts[i], counts[j]);
                    a[i][j] = i == j || m <= 0 ? 0 : Math.abs((double) c[i][j]) / m;
                }
            }
            return a;
        }
        double mean = 0;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                if (i != j) {
                    mean += Math.abs((double) c[i][j]);
                }
            }
        }
        mean /= (double) e * e;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                a[i][j] = i == j || mean == 0 ? 0 : c[i][j] / mean;
            }
        }
        return a;
    }

    /**
     * Mixed distance. {@link CoactivationNorm#MEAN}: D = cdist(W_r) - lambda * C / mean|C| (the reference mixes the raw,
     * undivided cdist, whose scale is the router's, against a co-activation term of mean 1). {@link CoactivationNorm#MIN_COUNT}:
     * both terms on one scale, each standardised over the pairs i != j (mean 0, standard deviation 1), so that lambda = 1
     * weighs them equally: D = z(r) - lambda * z(a).
     */
    static double[][] mixed(float[] router, int experts, int hidden, long[][] c, long[] counts, double lambda, CoactivationNorm norm) {
        double[][] r = router(router, experts, hidden, false);
        double[][] co = normalised(c, counts, norm);
        if (norm == CoactivationNorm.MIN_COUNT) {
            standardise(r);
            standardise(co);
        }
        for (int i = 0; i < experts; i++) {
            for (int j = 0; j < experts; j++) {
                r[i][j] = i == j ? 0 : r[i][j] - lambda * co[i][j];
            }
        }
        return r;
    }

    /** (d - mean) / sd over the pairs i != j, in place (only centred when all pairs are equal); the diagonal stays 0. */
    static void standardise(double[][] d) {
        int e = d.length;
        if (e < 2) {
            return;
        }
        double n = (double) e * (e - 1);
        double mean = 0;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                mean += i == j ? 0 : d[i][j] / n;
            }
        }
        double var = 0;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                var += i == j ? 0 : (d[i][j] - mean) * (d[i][j] - mean) / n;
            }
        }
        double sd = var > 0 ? Math.sqrt(var) : 1;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                d[i][j] = i == j ? 0 : (d[i][j] - mean) / sd;
            }
        }
    }

    /**
     * Distances scaled by what a merge costs: (D_ij - m) * min(u_i, u_j) / mean u, with m = min(0, smallest D_ij) so
     * that every entry is >= 0 before scaling. Replacing a cluster by its most used member changes the layer's output on
     * the tokens of the members that go, so the pair distance counts as much as the less used member of the pair is
     * used: rarely used experts merge first, and two busy experts merge only when they are very close. Without usage (all
     * zero) the distances are returned shifted only.
     */
    static double[][] usageWeighted(double[][] d, double[] usage) {
        int e = d.length;
        double min = 0;
        double mean = 0;
        for (int i = 0; i < e; i++) {
            mean += usage[i] / e;
            for (int j = 0; j < e; j++) {
                if (i != j) {
                    min = Math.min(min, d[i][j]);
                }
            }
        }
        double[][] w = new double[e][e];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                double scale = mean > 0 ? Math.min(usage[i], usage[j]) / mean : 1;
                w[i][j] = i == j ? 0 : (d[i][j] - min) * scale;
            }
        }
        return w;
    }
}
