package dev.moekit.prune.expert.stun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.expert.KeptExpert;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CentroidsTest {
    /** Experts of two parts (3000 and 1200 values), expert e with weights of scale {@code scale[e]} plus {@code common} x a shared matrix. */
    private static float[][][] experts(double[] scale, double common) {
        Random r = new Random(1);
        float[][] shared = {new float[3000], new float[1200]};
        for (float[] s : shared) {
            for (int i = 0; i < s.length; i++) {
                s[i] = (float) r.nextGaussian();
            }
        }
        float[][][] w = new float[scale.length][2][];
        for (int e = 0; e < scale.length; e++) {
            for (int p = 0; p < 2; p++) {
                w[e][p] = new float[shared[p].length];
                for (int i = 0; i < w[e][p].length; i++) {
                    w[e][p][i] = (float) (scale[e] * (common * shared[p][i] + r.nextGaussian()));
                }
            }
        }
        return w;
    }

    private static ExpertReader reader(float[][][] w) {
        return ExpertReader.of(w, new int[] {30, 12});
    }

    /** ||w_a - sum_b p_b w_b||^2 over both parts, computed directly. */
    private static double direct(float[][][] w, int[] members, double[] p, int a) {
        double d = 0;
        for (int part = 0; part < 2; part++) {
            for (int i = 0; i < w[0][part].length; i++) {
                double c = 0;
                for (int b = 0; b < members.length; b++) {
                    c += p[b] * w[members[b]][part][i];
                }
                double t = w[members[a]][part][i] - c;
                d += t * t;
            }
        }
        return d;
    }

    private static double dot(float[][][] w, int x, int y) {
        double s = 0;
        for (int part = 0; part < 2; part++) {
            for (int i = 0; i < w[0][part].length; i++) {
                s += (double) w[x][part][i] * w[y][part][i];
            }
        }
        return s;
    }

    @Test
    void weightedCentroidDistancesAndCosinesMatchADirectComputation() {
        float[][][] w = experts(new double[] {1, 2, 3, 4, 5}, 0.5);
        int[] members = {1, 2, 4, 0};
        ExpertReader r = reader(w);
        double[][] g = Centroids.gram(members, r);
        double[] plain = Centroids.squaredDistancesToMean(members, r);
        double[] usage = {5, 1, 0, 2};
        double[] p = Centroids.weights(usage);
        assertArrayEquals(new double[] {0.625, 0.125, 0, 0.25}, p, 1e-15);
        double[] weighted = Centroids.squaredDistances(g, p);
        double[] viaUniform = Centroids.squaredDistances(g, Centroids.uniform(4));
        for (int a = 0; a < members.length; a++) {
            double d = direct(w, members, Centroids.uniform(4), a);
            assertEquals(d, plain[a], 1e-4 * d);
            assertEquals(d, viaUniform[a], 1e-4 * d);
            double dw = direct(w, members, p, a);
            assertEquals(dw, weighted[a], 1e-4 * dw, "member " + a);
        }
        // cosines with the representative (one-hot weights) and with the mean
        double[] hot = {0, 1, 0, 0};
        double[] cos = Centroids.cosines(g, hot);
        for (int a = 0; a < members.length; a++) {
            double want = dot(w, members[a], 2) / Math.sqrt(dot(w, members[a], members[a]) * dot(w, 2, 2));
            assertEquals(want, cos[a], 1e-6);
        }
        assertEquals(1, cos[1], 1e-9);
        double pairs = 0;
        for (int a = 0; a < members.length; a++) {
            for (int b = a + 1; b < members.length; b++) {
                pairs += dot(w, members[a], members[b]) / Math.sqrt(dot(w, members[a], members[a]) * dot(w, members[b], members[b])) / 6;
            }
        }
        assertEquals(pairs, Centroids.meanPairCosine(g), 1e-6);
        assertEquals(0.2, pairs, 0.02, "common 0.5 against own 1: cosine 0.25 / 1.25");
        // no usage at all: the plain mean
        assertArrayEquals(Centroids.uniform(3), Centroids.weights(new double[] {0, 0, 0}));
        float[] mean = Centroids.mean(new int[] {0, 1}, 1, r);
        assertEquals((w[0][1][7] + w[1][1][7]) / 2, mean[7], 1e-6);
    }

    /**
     * The failure the reference rule has on nearly orthogonal experts: the member nearest the plain mean is the one with
     * the smallest weights (here the barely used expert 1); the usage-weighted centroid keeps the most used (expert 2).
     */
    @Test
    void orthogonalExpertsKeepTheMostUsedNotTheSmallest() {
        float[][][] w = experts(new double[] {1.5, 0.3, 1.0}, 0);
        double[][] g = Centroids.gram(new int[] {0, 1, 2}, reader(w));
        assertTrue(Math.abs(Centroids.meanPairCosine(g)) < 0.05, "nearly orthogonal");
        assertEquals(1, Centroids.nearestToMean(g), "reference rule: the smallest weights");
        assertEquals(2, Centroids.nearestToWeightedMean(g, new double[] {22, 0.2, 42}));
        // the usage-weighted distances, by hand for orthogonal experts: |w_a|^2 (1 - 2 p_a) + sum_b p_b^2 |w_b|^2
        double[] p = Centroids.weights(new double[] {22, 0.2, 42});
        double[] d = Centroids.squaredDistances(g, p);
        double common = 0;
        for (int b = 0; b < 3; b++) {
            common += p[b] * p[b] * g[b][b];
        }
        for (int a = 0; a < 3; a++) {
            assertEquals(g[a][a] * (1 - 2 * p[a]) + common, d[a], 0.05 * g[0][0]);
        }
    }

    /** Two members are equidistant from their plain mean: the reference keeps the first, the weighted rule the used one. */
    @Test
    void twoMemberClustersAreDecidedByUsageThenReapThenWeights() {
        float[][][] w = experts(new double[] {1, 1}, 0);
        double[][] g = Centroids.gram(new int[] {0, 1}, reader(w));
        assertEquals(0, Centroids.nearestToMean(g));
        assertEquals(1, Centroids.nearestToWeightedMean(g, new double[] {3, 7}));
        assertEquals(0, Centroids.nearestToWeightedMean(g, new double[] {7, 3}));
        // equal usage (also none at all): REAP decides, then the larger weights, not the index
        assertEquals(1, Centroids.nearestToWeightedMean(g, new double[] {5, 5}, new double[] {0.1, 0.4}));
        assertEquals(0, Centroids.nearestToWeightedMean(g, new double[] {0, 0}, new double[] {0.4, 0.1}));
        int larger = g[1][1] > g[0][0] ? 1 : 0;
        assertEquals(larger, Centroids.nearestToWeightedMean(g, new double[] {0, 0}, (double[]) null));
        assertEquals(larger, Centroids.nearestToWeightedMean(g, new double[] {2, 2}, new double[] {0.3, 0.3}));
        float[][][] w2 = experts(new double[] {1, 3}, 0);
        assertEquals(1, Centroids.nearestToWeightedMean(Centroids.gram(new int[] {0, 1}, reader(w2)), new double[] {1, 1}));
    }

    /** Near copies (upcycled experts): both rules keep the member nearest the centre, which usage only shifts. */
    @Test
    void nearCopiesKeepTheCentralMember() {
        float[][][] w = experts(new double[] {1.5, 0.6, 1.0}, 3);
        double[][] g = Centroids.gram(new int[] {0, 1, 2}, reader(w));
        assertTrue(Centroids.meanPairCosine(g) > 0.8, "near copies: " + Centroids.meanPairCosine(g));
        assertEquals(2, Centroids.nearestToMean(g));
        assertEquals(2, Centroids.nearestToWeightedMean(g, new double[] {1, 1, 1}));
        assertEquals(2, Centroids.nearestToWeightedMean(g, new double[] {30, 10, 40}));
    }

    @Test
    void representativePolicies() {
        assertFalse(Representative.NEAREST_TO_WEIGHTED_MEAN.averages(3, 2, 0));
        assertTrue(Representative.NEAREST_TO_WEIGHTED_MEAN.usesUsage());
        assertFalse(Representative.NEAREST_TO_MEAN.usesUsage());
        assertEquals(false, Representative.NEAREST_TO_MEAN.averages(3, 2, 0));
        assertEquals(true, Representative.AVERAGE.averages(2, 10, 0));
        assertEquals(false, Representative.AVERAGE.averages(1, 10, 0));
        assertEquals(true, Representative.AVERAGE_SMALL_CLUSTERS.averages(3, 10, 3));
        assertEquals(false, Representative.AVERAGE_SMALL_CLUSTERS.averages(4, 10, 3));
        assertEquals(true, Representative.AVERAGE_FEW_CLUSTERS.averages(4, 2, 2));
        assertEquals(false, Representative.AVERAGE_FEW_CLUSTERS.averages(4, 3, 2));
        assertArrayEquals(new int[] {1, 3}, new KeptExpert(3, new int[] {3, 1}, false).members());
        assertEquals(Representative.NEAREST_TO_WEIGHTED_MEAN, new StunPruner().defaults().representative());
        assertEquals(Usage.CALIBRATION, new StunPruner().defaults().usage());
        assertEquals(CoactivationNorm.MIN_COUNT, new StunPruner().defaults().coactivationNorm());
    }
}
