package dev.moekit.prune.stats;

import java.util.Map;

/**
 * Where expert pruning gets calibration statistics, one layer at a time. Data-free STUN ({@code usage: router_norm})
 * needs none ({@link #NONE}); STUN's default (expert usage), co-activation STUN and the frequency, EAN and REAP criteria
 * need {@link #routing}; NAEE needs
 * {@link #blockSamples}. The calibration collectors of the eval runtime implement it; tests fill it directly.
 */
public interface StatsSource {
    /** No calibration: every request fails with a message naming what was needed. */
    StatsSource NONE = new StatsSource() {};

    /** Routing statistics of MoE layer {@code layer}. */
    default RoutingStats routing(int layer) {
        throw new IllegalStateException("layer " + layer + ": this criterion needs routing statistics from calibration, but none were given");
    }

    /** Block inputs (and optionally original outputs) of MoE layer {@code layer}. */
    default MoeBlockSamples blockSamples(int layer) {
        throw new IllegalStateException("layer " + layer + ": NAEE needs MoE block inputs from calibration, but none were given");
    }

    /** A source backed by precomputed maps (either may be empty). */
    static StatsSource of(Map<Integer, RoutingStats> routing, Map<Integer, MoeBlockSamples> samples) {
        Map<Integer, RoutingStats> r = Map.copyOf(routing);
        Map<Integer, MoeBlockSamples> s = Map.copyOf(samples);
        return new StatsSource() {
            @Override
            public RoutingStats routing(int layer) {
                RoutingStats x = r.get(layer);
                return x != null ? x : StatsSource.super.routing(layer);
            }

            @Override
            public MoeBlockSamples blockSamples(int layer) {
                MoeBlockSamples x = s.get(layer);
                return x != null ? x : StatsSource.super.blockSamples(layer);
            }
        };
    }
}
