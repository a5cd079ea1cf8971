package dev.moekit.prune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RoutingStatsTest {
    @Test
    void topThreeTokensCountAllPairs() {
        RoutingStats s = RoutingStats.accumulator(0, 5, 3)
                .add(new int[] {0, 2, 4}, new double[] {0.5, 0.3, 0.2}, new double[] {1, 2, 4})
                .add(new int[] {2, 4, 1}, new double[] {0.2, 0.1, 0.1}, new double[] {3, 3, 3})
                .build();
        assertEquals(2, s.tokens());
        assertArrayEquals(new long[] {1, 1, 2, 0, 2}, s.counts());
        assertEquals(2, s.coactivation(2, 4));
        assertEquals(2, s.coactivation(4, 2));
        assertEquals(1, s.coactivation(0, 2));
        assertEquals(1, s.coactivation(1, 4));
        assertEquals(0, s.coactivation(0, 1));
        assertEquals(0, s.coactivation(2, 2));
        assertEquals(0.3 + 0.2, s.gateSums()[2], 1e-12);
        assertEquals(4 + 3, s.outputNormSums()[4], 1e-12);
        // REAP numerator uses gates renormalised over the token's top-k: second token's gates sum to 0.4
        assertEquals(0.5 * 1, s.reapSums()[0], 1e-12);
        assertEquals(0.3 * 2 + 0.5 * 3, s.reapSums()[2], 1e-12);
        assertTrue(s.hasOutputNorms());
    }

    @Test
    void normsMissingOnSomeTokensAreNotReported() {
        RoutingStats s = RoutingStats.accumulator(1, 3, 1)
                .add(new int[] {0}, new double[] {1}, new double[] {2})
                .add(new int[] {1}, new double[] {1}, null).build();
        assertFalse(s.hasOutputNorms());
        assertNull(s.outputNormSums());
    }

    @Test
    void mergeAddsAndChecksLayer() {
        RoutingStats.Accumulator a = RoutingStats.accumulator(0, 3, 2).add(new int[] {0, 1}, new double[] {0.6, 0.4}, null);
        RoutingStats.Accumulator b = RoutingStats.accumulator(0, 3, 2).add(new int[] {1, 2}, new double[] {0.5, 0.5}, null);
        RoutingStats s = a.merge(b).build();
        assertArrayEquals(new long[] {1, 2, 1}, s.counts());
        assertThrows(IllegalArgumentException.class, () -> a.merge(RoutingStats.accumulator(1, 3, 2)));
        assertThrows(IllegalArgumentException.class, () -> a.add(new int[] {0}, new double[] {1}, null));
    }

    @Test
    void activationNormsFollowWandaScalerRow() {
        ActivationNorms n = new ActivationNorms.Builder(2).add(new float[] {1, 2, 3, 4}).add(new float[] {2, 0}).add(new float[0]).build();
        assertEquals(3, n.tokens());
        assertEquals(2, n.batches());
        assertArrayEquals(new double[] {Math.sqrt(14 / 2.0), Math.sqrt(20 / 2.0)}, n.scale(), 1e-12);
        assertTrue(new ActivationNorms.Builder(3).build().empty());
    }
}
