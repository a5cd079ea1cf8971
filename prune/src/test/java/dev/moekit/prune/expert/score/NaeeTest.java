package dev.moekit.prune.expert.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.stats.MoeBlockSamples;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.model.Routing;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** NAEE on a toy block, checked against an independent brute force that really removes router rows and experts. */
class NaeeTest {
    static final int E = 6;
    static final int H = 8;
    static final int F = 5;
    static final int T = 40;

    private final Random rnd = new Random(42);
    private final float[] router = gaussian(E * H, 1.0);
    private final float[][][] w = new float[E][][];
    private final float[] x = gaussian(T * H, 1.0);

    NaeeTest() {
        for (int e = 0; e < E; e++) {
            // experts of very different output scale so that the best set is clear
            double s = 0.2 + e % 3;
            w[e] = new float[][] {gaussian(F * H, s), gaussian(F * H, 1), gaussian(H * F, 1)};
        }
    }

    private float[] gaussian(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * scale);
        }
        return a;
    }

    private LayerContext ctx(Routing routing, int topK) {
        return new LayerContext(0, E, topK, H, routing, StatsSource.of(Map.of(), Map.of(0, new MoeBlockSamples(0, H, x, null))),
                () -> router, () -> null, ExpertReader.of(w, new int[] {H, H, F}), 0);
    }

    /** The block with only {@code kept} experts (rows removed, softmax over the kept rows), summed loss. */
    private double bruteLoss(int[] kept, Routing routing, int topK) {
        double total = 0;
        for (int t = 0; t < T; t++) {
            double[] full = new double[H];
            double[] part = new double[H];
            blockOut(allExperts(), t, routing, topK, full);
            blockOut(kept, t, routing, topK, part);
            for (int i = 0; i < H; i++) {
                total += (full[i] - part[i]) * (full[i] - part[i]);
            }
        }
        return Math.sqrt(total);
    }

    private static int[] allExperts() {
        return java.util.stream.IntStream.range(0, E).toArray();
    }

    private void blockOut(int[] experts, int t, Routing routing, int topK, double[] out) {
        int n = experts.length;
        double[] logit = new double[n];
        for (int a = 0; a < n; a++) {
            for (int i = 0; i < H; i++) {
                logit[a] += (double) router[experts[a] * H + i] * x[t * H + i];
            }
        }
        double max = java.util.Arrays.stream(logit).max().orElseThrow();
        double[] p = new double[n];
        double sum = 0;
        for (int a = 0; a < n; a++) {
            p[a] = Math.exp(logit[a] - max);
            sum += p[a];
        }
        Integer[] order = new Integer[n];
        for (int a = 0; a < n; a++) {
            p[a] /= sum;
            order[a] = a;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double gsum = 0;
        for (int k = 0; k < topK; k++) {
            gsum += p[order[k]];
        }
        for (int k = 0; k < topK; k++) {
            int a = order[k];
            double g = routing.renormalize() ? p[a] / gsum : p[a];
            float[][] ex = w[experts[a]];
            for (int o = 0; o < H; o++) {
                double y = 0;
                for (int r = 0; r < F; r++) {
                    double gg = 0;
                    double uu = 0;
                    for (int i = 0; i < H; i++) {
                        gg += (double) ex[0][r * H + i] * x[t * H + i];
                        uu += (double) ex[1][r * H + i] * x[t * H + i];
                    }
                    y += ex[2][o * F + r] * (gg / (1 + Math.exp(-gg)) * uu);
                }
                out[o] += g * y;
            }
        }
    }

    @Test
    void picksTheTrulyBestKeptSet() {
        for (Routing routing : new Routing[] {Routing.softmax(true), Routing.softmax(false)}) {
            LayerContext c = ctx(routing, 2);
            NaeePruner naee = new NaeePruner();
            NaeePruner.Parameters p = new NaeePruner.Parameters(null, 1000L);
            int[] kept = naee.keep(p, c, naee.scores(p, c), 4);
            double best = Double.POSITIVE_INFINITY;
            int[] bestSet = null;
            for (int a = 0; a < E; a++) {
                for (int b = a + 1; b < E; b++) {
                    int finalA = a;
                    int finalB = b;
                    int[] set = java.util.stream.IntStream.range(0, E).filter(e -> e != finalA && e != finalB).toArray();
                    double l = bruteLoss(set, routing, 2);
                    if (l < best) {
                        best = l;
                        bestSet = set;
                    }
                }
            }
            assertArrayEquals(bestSet, kept, "renormalize=" + routing.renormalize());
        }
    }

    @Test
    void singleDropScoresMatchRowRemoval() {
        LayerContext c = ctx(Routing.softmax(true), 2);
        double[] s = new NaeePruner().scores(new NaeePruner().defaults(), c);
        for (int j = 0; j < E; j++) {
            int jj = j;
            int[] set = java.util.stream.IntStream.range(0, E).filter(e -> e != jj).toArray();
            assertEquals(bruteLoss(set, Routing.softmax(true), 2), s[j], 1e-9 * (1 + s[j]));
        }
        assertTrue(java.util.Arrays.stream(s).allMatch(v -> v > 0));
    }

    @Test
    void refusesHugeSearches() {
        LayerContext small = new LayerContext(0, E, 2, H, Routing.softmax(true), StatsSource.NONE, () -> router, () -> null,
                ExpertReader.of(w, new int[] {H, H, F}), 0);
        NaeePruner naee = new NaeePruner();
        NaeePruner.Parameters limit10 = new NaeePruner.Parameters(null, 10L);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> naee.keep(limit10, small, new double[E], 3));
        assertTrue(e.getMessage().contains("C(6, 3)"), e.getMessage());
        assertEquals(488_526_937_079_580.0, NaeePruner.binomial(64, 48), 1e3);
    }
}
