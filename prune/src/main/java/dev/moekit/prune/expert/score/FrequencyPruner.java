package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.method.NoParams;

/** Expert pruner {@code frequency}: keep the experts whose top-k includes the most calibration tokens. */
public final class FrequencyPruner extends ScoringPruner<NoParams> {
    public FrequencyPruner() {
        super("frequency", "keep the experts routed the most calibration tokens (REAP's frequency baseline)",
                "https://arxiv.org/abs/2510.13999", NoParams.class, Calibration.REQUIRED);
    }

    /** Tokens whose top-k includes j. */
    @Override
    public double[] scores(NoParams p, LayerContext ctx) {
        long[] c = Stats.routing(ctx).counts();
        double[] s = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            s[i] = c[i];
        }
        return s;
    }
}
