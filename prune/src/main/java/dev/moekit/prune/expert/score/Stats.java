package dev.moekit.prune.expert.score;

import dev.moekit.prune.stats.RoutingStats;

/** Routing statistics as the criteria read them. */
final class Stats {
    private Stats() {}

    static RoutingStats routing(LayerContext ctx) {
        return ctx.stats().routing(ctx.layer());
    }

    /** The layer's statistics, which must hold expert output norms (EAN, REAP). */
    static RoutingStats withNorms(LayerContext ctx, String who) {
        RoutingStats r = routing(ctx);
        if (!r.hasOutputNorms()) {
            throw new IllegalStateException("layer " + ctx.layer() + ": " + who + " needs expert output norms, but the calibration did not record them");
        }
        return r;
    }
}
