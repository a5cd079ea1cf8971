package dev.moekit.prune.expert;

import dev.moekit.prune.stats.RoutingStats;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The explicit registry of expert criteria (REAP's code and paper, arXiv 2510.13999 §4; algorithms.md §6.2, §8.12).
 * Frequency, EAN and REAP stay distinct: a count, a sum of output norms, and a conditional mean of gate x norm.
 */
final class ExpertScorers {
    private static final Map<String, ExpertScorer> BY_NAME = register(List.of(
            simple("frequency", ExpertScorers::frequency),
            simple("weighted_frequency", ctx -> ctx.stats().routing(ctx.layer()).gateSums()),
            simple("ean", ExpertScorers::ean),
            simple("reap", ExpertScorers::reap),
            simple("random", ExpertScorers::random),
            new NaeeScorer()));

    private ExpertScorers() {}

    private static Map<String, ExpertScorer> register(List<ExpertScorer> all) {
        Map<String, ExpertScorer> m = new LinkedHashMap<>();
        for (ExpertScorer s : all) {
            if (m.put(s.name(), s) != null) {
                throw new IllegalStateException("two expert scorers are named " + s.name());
            }
        }
        return Map.copyOf(m);
    }

    /** The scorer of a non-STUN method. */
    static ExpertScorer get(ExpertMethod method) {
        ExpertScorer s = BY_NAME.get(method.key());
        if (s == null) {
            throw new IllegalArgumentException("method " + method.key() + " has no expert scorer (STUN clusters instead)");
        }
        return s;
    }

    private interface Fn {
        double[] apply(LayerContext ctx);
    }

    private static ExpertScorer simple(String name, Fn fn) {
        return new ExpertScorer() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public double[] scores(LayerContext ctx) {
                return fn.apply(ctx);
            }
        };
    }

    /** Frequency: tokens whose top-k includes j. */
    private static double[] frequency(LayerContext ctx) {
        long[] c = ctx.stats().routing(ctx.layer()).counts();
        double[] s = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            s[i] = c[i];
        }
        return s;
    }

    private static RoutingStats withNorms(LayerContext ctx, String who) {
        RoutingStats r = ctx.stats().routing(ctx.layer());
        if (!r.hasOutputNorms()) {
            throw new IllegalStateException("layer " + ctx.layer() + ": " + who + " needs expert output norms, but the calibration did not record them");
        }
        return r;
    }

    /** EAN: sum over routed tokens of ||f_j(x)||_2. */
    private static double[] ean(LayerContext ctx) {
        return withNorms(ctx, "EAN").outputNormSums();
    }

    /** REAP: (1/|X_j|) sum over routed tokens of renormalised gate x ||f_j(x)||_2; 0 for never-routed experts. */
    private static double[] reap(LayerContext ctx) {
        RoutingStats r = withNorms(ctx, "REAP");
        double[] sums = r.reapSums();
        double[] s = new double[sums.length];
        for (int j = 0; j < s.length; j++) {
            s[j] = r.count(j) == 0 ? 0 : sums[j] / r.count(j);
        }
        return s;
    }

    /** Random: i.i.d. uniform scores from a generator seeded by (seed, layer). */
    private static double[] random(LayerContext ctx) {
        SplittableRandom rnd = new SplittableRandom(ctx.seed() * 0x9E3779B97F4A7C15L + ctx.layer());
        double[] s = new double[ctx.experts()];
        for (int i = 0; i < s.length; i++) {
            s[i] = rnd.nextDouble();
        }
        return s;
    }
}
