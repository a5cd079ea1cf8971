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
    void coactivationDistanceIsNegativeCountOverMean() {
        long[][] c = {{0, 6, 2}, {6, 0, 4}, {2, 4, 0}};
        double[][] d = ExpertDistances.coactivation(c);
        double mean = 24.0 / 9;
        assertEquals(-6 / mean, d[0][1], 1e-12);
        assertEquals(-2 / mean, d[2][0], 1e-12);
        assertEquals(0, d[1][1]);
        // the pair that fires together most is the closest
        Clustering cl = GreedyClustering.of(d).run(0, 1);
        assertArrayEquals(new int[] {0, 1}, cl.clusters().getFirst());
        double[][] mix = ExpertDistances.mixed(new float[] {3, 0, 0, 4, 0, 0}, 3, 2, c, 0.5);
        assertEquals(5.0 - 0.5 * 6 / mean, mix[0][1], 1e-12);
    }
}
