package dev.moekit.prune.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class WandaOwlTest {
    @Test
    void rowwiseMaskUsesActivationScaledScores() {
        float[] w = {1, -2, 3, 0.5f, /* row 2 */ -4, 1, 1, 2};
        double[] scale = {1, 0.1, 1, 10};
        // scores row 1: 1, 0.2, 3, 5 -> drop columns 1, 0; row 2: 4, 0.1, 1, 20 -> drop 1, 2
        assertEquals(4, WandaMask.pruneRows(w, 2, 4, scale, 0.5));
        assertArrayEquals(new float[] {0, 0, 3, 0.5f, -4, 0, 0, 2}, w);
        float[] m = {1, -2, 3, 0.5f};
        WandaMask.pruneRows(m, 1, 4, null, 0.5);
        assertArrayEquals(new float[] {0, -2, 3, 0}, m, "magnitude only");
    }

    @Test
    void rowwiseMaskIsExactOnRandomWeights() {
        Random r = new Random(5);
        int out = 7;
        int in = 40;
        float[] w = new float[out * in];
        double[] s = new double[in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int j = 0; j < in; j++) {
            s[j] = r.nextDouble() * 3;
        }
        float[] orig = w.clone();
        WandaMask.pruneRows(w, out, in, s, 0.3);
        for (int row = 0; row < out; row++) {
            int zeros = 0;
            double maxPruned = 0;
            double minKept = Double.MAX_VALUE;
            for (int j = 0; j < in; j++) {
                double score = Math.abs(orig[row * in + j]) * s[j];
                if (w[row * in + j] == 0) {
                    zeros++;
                    maxPruned = Math.max(maxPruned, score);
                } else {
                    assertEquals(orig[row * in + j], w[row * in + j]);
                    minKept = Math.min(minKept, score);
                }
            }
            assertEquals(12, zeros, "floor(0.3 * 40) per row");
            assertTrue(maxPruned <= minKept);
        }
    }

    @Test
    void twoFourMask() {
        Random r = new Random(9);
        int out = 3;
        int in = 16;
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        double[] s = new double[in];
        java.util.Arrays.fill(s, 1);
        s[0] = 100; // column 0 always survives
        float[] orig = w.clone();
        assertEquals(out * in / 2, WandaMask.pruneNm(w, out, in, s, 2, 4));
        for (int row = 0; row < out; row++) {
            assertTrue(w[row * in] != 0);
            for (int g = 0; g < in; g += 4) {
                int zeros = 0;
                for (int j = g; j < g + 4; j++) {
                    if (w[row * in + j] == 0) {
                        zeros++;
                        for (int k = g; k < g + 4; k++) {
                            if (w[row * in + k] != 0) {
                                assertTrue(Math.abs(orig[row * in + j]) * s[j] <= Math.abs(orig[row * in + k]) * s[k]);
                            }
                        }
                    }
                }
                assertEquals(2, zeros);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> WandaMask.pruneNm(new float[6], 1, 6, null, 2, 4));
    }

    @Test
    void owlLayerSparsities() {
        double[] s = Owl.layerSparsities(new double[] {0, 50, 100}, 0.5, 0.08);
        assertArrayEquals(new double[] {0.58, 0.5, 0.42}, s, 1e-12);
        double[] flat = Owl.layerSparsities(new double[] {3, 3}, 0.6, 0.08);
        assertArrayEquals(new double[] {0.6, 0.6}, flat);
        double[] r = Owl.layerSparsities(new double[] {1, 7, 2, 30}, 0.65, 0.08);
        assertEquals(0.65, java.util.Arrays.stream(r).average().orElseThrow(), 1e-12);
        double span = java.util.Arrays.stream(r).max().orElseThrow() - java.util.Arrays.stream(r).min().orElseThrow();
        assertEquals(2 * 0.08, span, 1e-12, "the ratios spread over a window of 2 lambda");
        assertTrue(r[3] < r[0], "more outliers, lower sparsity");
    }

    /**
     * A small stage target (e.g. total 0.3 after expert pruning removed 23.5% of the Linear weights: S = 0.085) with
     * one outlier-heavy layer: the reference formula puts the other layers at S - (2 lambda - mean) < 0. The spread
     * shrinks to min(lambda, S/2, (1-S)/2), so every target stays in (0, 1) and the mean is still S.
     */
    @Test
    void owlSpreadShrinksNearZeroAndOne() {
        double[] lod = {0.9, 2.0, 1.1, 1.2, 0.9, 6.0};
        for (double target : new double[] {0.085, 0.02, 0.97, 0.999}) {
            double[] s = Owl.layerSparsities(lod, target, 0.08);
            assertEquals(target, java.util.Arrays.stream(s).average().orElseThrow(), 1e-12, "mean at " + target);
            for (double v : s) {
                assertTrue(v > 0 && v < 1, "layer target " + v + " for S = " + target);
            }
            double lambda = Owl.spread(target, 0.08);
            assertEquals(Math.min(0.08, Math.min(target, 1 - target) / 2), lambda, 1e-15);
            double span = java.util.Arrays.stream(s).max().orElseThrow() - java.util.Arrays.stream(s).min().orElseThrow();
            assertEquals(2 * lambda, span, 1e-12, "the window shrinks with the spread");
            assertTrue(s[5] < s[0], "more outliers, lower sparsity");
        }
        // the reference formula, unshrunk, goes negative here (the bug: "sparsity must be in [0, 1], got -0.0...")
        double mean = 0;
        double[] scaled = new double[lod.length];
        for (int l = 0; l < lod.length; l++) {
            scaled[l] = (lod[l] - 0.9) / (6.0 - 0.9) * 0.16;
            mean += scaled[l] / lod.length;
        }
        assertTrue(0.085 - (scaled[0] - mean) > 0.085 && 0.085 - (scaled[5] - mean) < 0, "unshrunk, the outlier layer gets a negative target");
        // in the reference's range nothing changes
        assertEquals(0.08, Owl.spread(0.4, 0.08));
        assertEquals(0.08, Owl.spread(0.16, 0.08));
    }

    @Test
    void outlierRatioCountsScoresAboveMTimesTheMean() {
        Owl.Outliers o = new Owl.Outliers(5);
        float[] scores = {1, 1, 1, 1, 1, 1, 1, 1, 1, 20};
        for (float v : scores) {
            o.addForMean(v);
        }
        o.fixMean();
        for (float v : scores) {
            o.addForCount(v);
        }
        assertEquals(10.0, o.ratio(), 1e-12); // mean 2.9, threshold 14.5: one of ten
    }
}
