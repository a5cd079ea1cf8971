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
     * Co-activation "distance" -C_ij / mean|C| with the mean over all E x E entries (diagonal zero), as the reference's
     * {@code --divide_mean}; an all-zero C (no calibration tokens) yields all zeros.
     */
    static double[][] coactivation(long[][] c) {
        int e = c.length;
        double mean = 0;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                if (i != j) {
                    mean += Math.abs((double) c[i][j]);
                }
            }
        }
        mean /= (double) e * e;
        double[][] d = new double[e][e];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                d[i][j] = i == j || mean == 0 ? 0 : -c[i][j] / mean;
            }
        }
        return d;
    }

    /** D = cdist(W_r) - lambda * C / mean|C| (the reference mixes the raw, undivided cdist). */
    static double[][] mixed(float[] router, int experts, int hidden, long[][] c, double lambda) {
        double[][] r = router(router, experts, hidden, false);
        double[][] co = coactivation(c);
        for (int i = 0; i < experts; i++) {
            for (int j = 0; j < experts; j++) {
                r[i][j] += lambda * co[i][j];
            }
        }
        return r;
    }
}
