package dev.moekit.prune.expert.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.model.Routing;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Crafted statistics on which frequency, weighted frequency, EAN and REAP disagree. */
class ScorersTest {
    /**
     * 4 experts, top-1 tokens (so the renormalised gate is 1):
     * expert 0: 10 tokens, gate 0.2, norm 1   -> freq 10, wfreq 2.0, EAN 10, REAP 1;
     * expert 1:  4 tokens, gate 0.9, norm 1   -> freq 4,  wfreq 3.6, EAN 4,  REAP 1;
     * expert 2:  2 tokens, gate 0.5, norm 20  -> freq 2,  wfreq 1.0, EAN 40, REAP 20;
     * expert 3:  never routed                 -> all 0.
     */
    private static RoutingStats stats() {
        RoutingStats.Accumulator a = RoutingStats.accumulator(0, 4, 1);
        for (int i = 0; i < 10; i++) {
            a.add(new int[] {0}, new double[] {0.2}, new double[] {1});
        }
        for (int i = 0; i < 4; i++) {
            a.add(new int[] {1}, new double[] {0.9}, new double[] {1});
        }
        for (int i = 0; i < 2; i++) {
            a.add(new int[] {2}, new double[] {0.5}, new double[] {20});
        }
        return a.build();
    }

    private static LayerContext ctx(RoutingStats s, long seed) {
        return new LayerContext(0, 4, 1, 8, Routing.softmax(true), StatsSource.of(Map.of(0, s), Map.of()),
                () -> null, () -> null, null, seed);
    }

    /** The registered scoring pruner {@code name} (looked up as the prune stage does). */
    @SuppressWarnings("unchecked")
    static ScoringPruner<Record> get(String name) {
        return (ScoringPruner<Record>) Methods.standard().kind(ExpertPruner.KIND).get(name);
    }

    private static double[] scores(String name, LayerContext c) {
        ScoringPruner<Record> s = get(name);
        return s.scores(s.defaults(), c);
    }

    private static int[] keep(String name, int count) {
        ScoringPruner<Record> s = get(name);
        LayerContext c = ctx(stats(), 1);
        return s.keep(s.defaults(), c, s.scores(s.defaults(), c), count);
    }

    @Test
    void criteriaStayDistinct() {
        assertArrayEquals(new int[] {0, 1}, keep("frequency", 2));
        assertArrayEquals(new int[] {0, 1}, keep("weighted_frequency", 2));
        assertArrayEquals(new int[] {1}, keep("weighted_frequency", 1));
        assertArrayEquals(new int[] {0}, keep("frequency", 1));
        assertArrayEquals(new int[] {0, 2}, keep("ean", 2));
        assertArrayEquals(new int[] {2}, keep("ean", 1));
        // REAP with top-1: renormalised gate is 1, so the score is the mean output norm: 1, 1, 20, 0
        double[] reap = scores("reap", ctx(stats(), 0));
        assertArrayEquals(new double[] {1, 1, 20, 0}, reap, 1e-12);
        assertArrayEquals(new int[] {0, 1, 2}, keep("reap", 3), "never-routed expert 3 goes first");
    }

    @Test
    void reapIsAConditionalMean() {
        RoutingStats s = RoutingStats.accumulator(0, 3, 2)
                .add(new int[] {0, 1}, new double[] {0.3, 0.1}, new double[] {2, 8})
                .add(new int[] {0, 2}, new double[] {0.2, 0.2}, new double[] {4, 1})
                .build();
        double[] reap = scores("reap", ctx(s, 0));
        assertEquals((0.75 * 2 + 0.5 * 4) / 2, reap[0], 1e-12);
        assertEquals(0.25 * 8, reap[1], 1e-12);
        assertEquals(0.5 * 1, reap[2], 1e-12);
    }

    @Test
    void randomIsSeeded() {
        assertArrayEquals(scores("random", ctx(stats(), 5)), scores("random", ctx(stats(), 5)));
        assertNotEquals(java.util.Arrays.toString(scores("random", ctx(stats(), 5))), java.util.Arrays.toString(scores("random", ctx(stats(), 6))));
    }

    @Test
    void missingStatisticsAreClearErrors() {
        LayerContext none = new LayerContext(3, 4, 1, 8, Routing.softmax(true), StatsSource.NONE, () -> null, () -> null, null, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> scores("frequency", none));
        assertEquals(true, e.getMessage().contains("layer 3"));
        RoutingStats noNorms = RoutingStats.accumulator(0, 4, 1).add(new int[] {0}, new double[] {1}, null).build();
        assertThrows(IllegalStateException.class, () -> scores("ean", ctx(noNorms, 0)));
        // STUN clusters instead of scoring; an unknown name is an error naming the closest one
        assertFalse(Methods.standard().kind(ExpertPruner.KIND).get("stun") instanceof ScoringPruner);
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class, () -> get("frequncy"));
        assertTrue(u.getMessage().contains("did you mean 'frequency'"), u.getMessage());
    }
}
