package dev.moekit.prune.expert.stun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class BudgetSearchTest {
    private static List<GreedyClustering> randomLayers(long seed, int layers, int experts) {
        Random r = new Random(seed);
        List<GreedyClustering> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            // points in 3-D give a metric with structure (clusters of nearby points)
            double[][] p = new double[experts][3];
            for (double[] v : p) {
                for (int k = 0; k < 3; k++) {
                    v[k] = r.nextGaussian() * (1 + l);
                }
            }
            double[][] d = new double[experts][experts];
            for (int i = 0; i < experts; i++) {
                for (int j = 0; j < experts; j++) {
                    d[i][j] = Math.sqrt(Math.pow(p[i][0] - p[j][0], 2) + Math.pow(p[i][1] - p[j][1], 2) + Math.pow(p[i][2] - p[j][2], 2));
                }
            }
            out.add(GreedyClustering.of(d));
        }
        return out;
    }

    /** Every total reachable by some threshold, by brute force over all candidate thresholds. */
    private static TreeSet<Integer> reachable(List<GreedyClustering> layers, int[] limits) {
        TreeSet<Double> cand = new TreeSet<>();
        layers.forEach(g -> java.util.Arrays.stream(g.distinctDistances()).forEach(cand::add));
        TreeSet<Integer> totals = new TreeSet<>();
        for (double c : cand) {
            int t = 0;
            for (int l = 0; l < layers.size(); l++) {
                t += layers.get(l).run(Math.nextUp(c), limits[l]).size();
            }
            totals.add(t);
        }
        return totals;
    }

    @Test
    void globalThresholdHitsEveryReachableTargetExactly() {
        List<GreedyClustering> layers = randomLayers(7, 4, 8);
        int[] limits = {6, 6, 6, 6};
        TreeSet<Integer> ok = reachable(layers, limits);
        assertTrue(ok.size() > 10, "the crafted layers give many reachable totals: " + ok);
        for (int target : ok) {
            for (ThresholdSearch mode : ThresholdSearch.values()) {
                BudgetSearch.Result r = BudgetSearch.global(layers, limits, target, mode);
                assertEquals(target, r.kept(), mode + " target " + target);
                assertTrue(r.exact());
                double tau = r.layers().getFirst().tau();
                r.layers().forEach(c -> assertEquals(tau, c.tau(), "one global threshold"));
            }
        }
    }

    @Test
    void perLayerLimitBoundsTheTarget() {
        List<GreedyClustering> layers = randomLayers(3, 2, 6);
        assertThrows(IllegalArgumentException.class, () -> BudgetSearch.global(layers, new int[] {2, 2}, 7, ThresholdSearch.BISECTION));
        BudgetSearch.Result r = BudgetSearch.global(layers, new int[] {2, 2}, 8, ThresholdSearch.BISECTION);
        assertEquals(8, r.kept());
        r.layers().forEach(c -> assertEquals(4, c.size()));
    }

    @Test
    void uniformKeepsTheSameCountWithTheSmallestThreshold() {
        List<GreedyClustering> layers = randomLayers(11, 5, 8);
        for (int keep = 2; keep <= 8; keep++) {
            BudgetSearch.Result r = BudgetSearch.uniform(layers, keep);
            for (int l = 0; l < layers.size(); l++) {
                Clustering c = r.layers().get(l);
                assertEquals(keep, c.size(), "layer " + l + " keep " + keep);
                // the next smaller candidate threshold leaves more clusters (minimality)
                double tau = c.tau();
                if (Double.isFinite(tau) && keep < 8) {
                    double below = Double.NEGATIVE_INFINITY;
                    for (double v : layers.get(l).distinctDistances()) {
                        if (Math.nextUp(v) < tau) {
                            below = Math.max(below, Math.nextUp(v));
                        }
                    }
                    if (below > Double.NEGATIVE_INFINITY) {
                        assertTrue(layers.get(l).run(below, 8 - keep).size() > keep);
                    }
                }
            }
        }
    }
}
