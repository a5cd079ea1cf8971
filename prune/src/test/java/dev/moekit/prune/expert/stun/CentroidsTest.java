package dev.moekit.prune.expert.stun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.expert.KeptExpert;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CentroidsTest {
    @Test
    void nearestToMeanOverAllParts() {
        Random r = new Random(1);
        int n = 5;
        float[][][] w = new float[n][2][];
        for (int e = 0; e < n; e++) {
            w[e][0] = new float[3000];
            w[e][1] = new float[1200];
            for (int p = 0; p < 2; p++) {
                for (int i = 0; i < w[e][p].length; i++) {
                    w[e][p][i] = (float) (r.nextGaussian() * (1 + e));
                }
            }
        }
        ExpertReader reader = ExpertReader.of(w, new int[] {30, 12});
        int[] members = {1, 2, 4, 0};
        double[] d = Centroids.squaredDistancesToMean(members, reader);
        for (int a = 0; a < members.length; a++) {
            double direct = 0;
            for (int p = 0; p < 2; p++) {
                for (int i = 0; i < w[0][p].length; i++) {
                    double mean = 0;
                    for (int m : members) {
                        mean += w[m][p][i];
                    }
                    mean /= members.length;
                    double t = w[members[a]][p][i] - mean;
                    direct += t * t;
                }
            }
            assertEquals(direct, d[a], 1e-4 * direct);
        }
        // smallest spread (expert 0, scale 1) is nearest the mean
        assertEquals(3, Centroids.nearestToMean(members, reader));
        float[] mean = Centroids.mean(new int[] {0, 1}, 1, reader);
        assertEquals((w[0][1][7] + w[1][1][7]) / 2, mean[7], 1e-6);
    }

    @Test
    void representativePolicies() {
        assertEquals(false, Representative.NEAREST_TO_MEAN.averages(3, 2, 0));
        assertEquals(true, Representative.AVERAGE.averages(2, 10, 0));
        assertEquals(false, Representative.AVERAGE.averages(1, 10, 0));
        assertEquals(true, Representative.AVERAGE_SMALL_CLUSTERS.averages(3, 10, 3));
        assertEquals(false, Representative.AVERAGE_SMALL_CLUSTERS.averages(4, 10, 3));
        assertEquals(true, Representative.AVERAGE_FEW_CLUSTERS.averages(4, 2, 2));
        assertEquals(false, Representative.AVERAGE_FEW_CLUSTERS.averages(4, 3, 2));
        assertArrayEquals(new int[] {1, 3}, new KeptExpert(3, new int[] {3, 1}, false).members());
    }
}
