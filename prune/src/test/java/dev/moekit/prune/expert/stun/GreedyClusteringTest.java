package dev.moekit.prune.expert.stun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class GreedyClusteringTest {
    /** Symmetric matrix from the upper triangle given row by row. */
    static double[][] sym(int n, double... upper) {
        double[][] d = new double[n][n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                d[i][j] = d[j][i] = upper[k++];
            }
        }
        return d;
    }

    private static List<String> show(Clustering c) {
        return c.clusters().stream().map(java.util.Arrays::toString).toList();
    }

    @Test
    void completeLinkageRejectsAChain() {
        // 0-1 and 1-2 are close, 0-2 far: single linkage would chain all three, complete linkage must not
        double[][] d = sym(3, 1.0, 5.0, 1.5);
        Clustering c = GreedyClustering.of(d).run(2.0, 3);
        assertEquals(List.of("[0, 1]", "[2]"), show(c));
        // with a threshold above 5 the chain is accepted
        assertEquals(List.of("[0, 1, 2]"), show(GreedyClustering.of(d).run(6.0, 3)));
    }

    @Test
    void rejectedPairDoesNotBlockLaterMerges() {
        // pairs by distance: (0,1)=1 merge; (1,2)=1.2 rejected (0-2=9); (2,3)=1.3 merge; (0,3)=9...
        double[][] d = sym(4, 1.0, 9.0, 9.0, 1.2, 9.0, 1.3);
        Clustering c = GreedyClustering.of(d).run(2.0, 4);
        assertEquals(List.of("[0, 1]", "[2, 3]"), show(c));
    }

    @Test
    void stopsAtThresholdAndAtTheLimit() {
        double[][] d = sym(4, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
        assertEquals(4, GreedyClustering.of(d).run(1.0, 4).size(), "nothing strictly below tau = 1");
        assertEquals(3, GreedyClustering.of(d).run(1.5, 4).size());
        // huge tau, but at most 2 experts may be pruned: 2 clusters remain
        Clustering capped = GreedyClustering.of(d).run(100, 2);
        assertEquals(2, capped.size());
        assertEquals(List.of("[0, 1, 2]", "[3]"), show(capped));
    }

    @Test
    void tiesFollowFlattenedArgminOrder() {
        double[][] d = sym(4, 1.0, 7.0, 7.0, 7.0, 7.0, 1.0);
        // (0,1) and (2,3) tie; with a limit of one removal the first pair in row-major order wins
        assertEquals(List.of("[0, 1]", "[2]", "[3]"), show(GreedyClustering.of(d).run(5, 1)));
    }

    @Test
    void refusesNaN() {
        double[][] d = sym(3, 1.0, Double.NaN, 2.0);
        assertThrows(IllegalArgumentException.class, () -> GreedyClustering.of(d));
    }

    @Test
    void distancesFromRouterRows() {
        float[] w = {3, 0, 0, 4, 0, 0}; // three rows of 2: (3,0), (0,4), (0,0)
        double[][] raw = ExpertDistances.router(w, 3, 2, false);
        assertEquals(5.0, raw[0][1], 1e-12);
        assertEquals(3.0, raw[0][2], 1e-12);
        assertEquals(4.0, raw[1][2], 1e-12);
        double[][] norm = ExpertDistances.router(w, 3, 2, true);
        assertEquals(1.0, norm[0][1], 1e-12, "divided by the Frobenius norm 5");
    }

    @Test
    void referenceCoactivationIsNegativeCountOverMean() {
        long[][] c = {{0, 6, 2}, {6, 0, 4}, {2, 4, 0}};
        long[] n = {8, 10, 6};
        double[][] d = ExpertDistances.coactivation(c, n, CoactivationNorm.MEAN);
        double mean = 24.0 / 9;
        assertEquals(-6 / mean, d[0][1], 1e-12);
        assertEquals(-2 / mean, d[2][0], 1e-12);
        assertEquals(0, d[1][1]);
        // the pair that fires together most is the closest
        Clustering cl = GreedyClustering.of(d).run(0, 1);
        assertArrayEquals(new int[] {0, 1}, cl.clusters().getFirst());
        double[][] mix = ExpertDistances.mixed(new float[] {3, 0, 0, 4, 0, 0}, 3, 2, c, n, 0.5, CoactivationNorm.MEAN);
        assertEquals(5.0 - 0.5 * 6 / mean, mix[0][1], 1e-12);
    }

    /**
     * Experts 0 and 1 are busy (100 tokens each) and share 20; experts 2 and 3 are rare (5 tokens each) and always fire
     * together. Raw counts over their mean make the busy pair the closest, so STUN merged (and removed one of) the busiest
     * experts; C_ij / min(n_i, n_j) makes the rare pair the closest (1 against 0.2).
     */
    @Test
    void minCountCoactivationStopsClusteringTheBusiest() {
        long[][] c = {{0, 20, 1, 0}, {20, 0, 0, 1}, {1, 0, 0, 5}, {0, 1, 5, 0}};
        long[] n = {100, 100, 5, 5};
        double[][] d = ExpertDistances.coactivation(c, n, CoactivationNorm.MIN_COUNT);
        assertEquals(-0.2, d[0][1], 1e-12);
        assertEquals(-1.0, d[2][3], 1e-12);
        assertEquals(-0.2, d[0][2], 1e-12, "1 of the rarer expert's 5 tokens");
        assertEquals(0, d[3][3]);
        assertArrayEquals(new int[] {2, 3}, GreedyClustering.of(d).run(0, 1).clusters().stream().filter(k -> k.length == 2).findFirst().orElseThrow());
        double[][] ref = ExpertDistances.coactivation(c, n, CoactivationNorm.MEAN);
        assertArrayEquals(new int[] {0, 1}, GreedyClustering.of(ref).run(0, 1).clusters().getFirst(), "the reference merges the busy pair");
        // an expert never routed shares nothing
        assertEquals(0, ExpertDistances.coactivation(c, new long[] {100, 100, 0, 5}, CoactivationNorm.MIN_COUNT)[2][3], 0.0);
    }

    @Test
    void mixedWeighsBothTermsOnOneScale() {
        long[][] c = {{0, 20, 1, 0}, {20, 0, 0, 1}, {1, 0, 0, 5}, {0, 1, 5, 0}};
        long[] n = {100, 100, 5, 5};
        // router rows of a very different scale than the co-activation shares: (300,0), (0,400), (0,0), (300,400)
        float[] w = {300, 0, 0, 400, 0, 0, 300, 400};
        double[][] r = ExpertDistances.router(w, 4, 2, false);
        double[][] a = ExpertDistances.normalised(c, n, CoactivationNorm.MIN_COUNT);
        double[] rs = moments(r);
        double[] as = moments(a);
        double[][] mix = ExpertDistances.mixed(w, 4, 2, c, n, 1.0, CoactivationNorm.MIN_COUNT);
        double[][] router = ExpertDistances.mixed(w, 4, 2, c, n, 0.0, CoactivationNorm.MIN_COUNT);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                if (i != j) {
                    assertEquals((r[i][j] - rs[0]) / rs[1] - (a[i][j] - as[0]) / as[1], mix[i][j], 1e-12);
                }
            }
        }
        assertEquals(0, mix[2][2]);
        // each term has mean 0 and standard deviation 1 over the pairs, whatever the router's scale
        assertArrayEquals(new double[] {0, 1}, moments(router), 1e-12);
        double[][] share = ExpertDistances.mixed(w, 4, 2, c, n, 1.0, CoactivationNorm.MIN_COUNT);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                share[i][j] = i == j ? 0 : router[i][j] - share[i][j];
            }
        }
        assertArrayEquals(new double[] {0, 1}, moments(share), 1e-12);
    }

    /** Mean and (population) standard deviation over the pairs i != j. */
    private static double[] moments(double[][] d) {
        int e = d.length;
        double n = e * (e - 1.0);
        double mean = 0;
        double sq = 0;
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                if (i != j) {
                    mean += d[i][j] / n;
                    sq += d[i][j] * d[i][j] / n;
                }
            }
        }
        return new double[] {mean, Math.sqrt(sq - mean * mean)};
    }

    /**
     * Experts 0 and 1 are both busy and have the closest router rows; 3 is barely used and close to 2. Plain distances
     * merge the busy pair (removing a busy expert); scaled by the usage of the less used member, 3 goes first.
     */
    @Test
    void usageWeightedDistancesMergeRarelyUsedExpertsFirst() {
        double[][] d = {{0, 0.1, 1, 1}, {0.1, 0, 1, 1}, {1, 1, 0, 0.5}, {1, 1, 0.5, 0}};
        double[] u = {100, 100, 100, 1};
        assertArrayEquals(new int[] {0, 1}, GreedyClustering.of(d).run(Double.POSITIVE_INFINITY, 1).clusters().getFirst());
        double[][] w = ExpertDistances.usageWeighted(d, u);
        double mean = 301 / 4.0;
        assertEquals(0.1 * 100 / mean, w[0][1], 1e-12);
        assertEquals(0.5 * 1 / mean, w[2][3], 1e-12);
        assertEquals(0, w[3][3]);
        Clustering c = GreedyClustering.of(w).run(Double.POSITIVE_INFINITY, 1);
        assertArrayEquals(new int[] {2, 3}, c.clusters().get(2));
        // negative distances (co-activation) are shifted to >= 0 first, so the closest pair stays the closest
        double[][] neg = {{0, -1, -0.5}, {-1, 0, 0}, {-0.5, 0, 0}};
        double[][] wn = ExpertDistances.usageWeighted(neg, new double[] {1, 1, 1});
        assertEquals(0, wn[0][1], 1e-12);
        assertEquals(0.5, wn[0][2], 1e-12);
        assertEquals(1, wn[1][2], 1e-12);
        // no usage at all: only shifted
        assertEquals(0.1, ExpertDistances.usageWeighted(d, new double[4])[0][1], 1e-12);
    }
}
