package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.method.NoParams;

/** Expert pruner {@code weighted_frequency}: keep the experts with the largest sum of applied gate values (soft count). */
public final class WeightedFrequencyPruner extends ScoringPruner<NoParams> {
    public WeightedFrequencyPruner() {
        super("weighted_frequency", "keep the experts with the largest sum of applied gate values (REAP's soft-count baseline)",
                "https://arxiv.org/abs/2510.13999", NoParams.class, Calibration.REQUIRED);
    }

    @Override
    public double[] scores(NoParams p, LayerContext ctx) {
        return Stats.routing(ctx).gateSums();
    }
}
