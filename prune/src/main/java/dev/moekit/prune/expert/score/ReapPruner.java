package dev.moekit.prune.expert.score;

import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.toolkit.method.NoParams;

/**
 * Expert pruner {@code reap} (Lasby et al., arXiv 2510.13999): keep the experts with the largest mean over routed
 * tokens of renormalised gate x ||f_j(x)||_2; never-routed experts score 0.
 */
public final class ReapPruner extends ScoringPruner<NoParams> {
    public ReapPruner() {
        super("reap", "REAP: keep the experts with the largest mean of gate x output norm over their routed tokens",
                "https://arxiv.org/abs/2510.13999", NoParams.class, Calibration.REQUIRED);
    }

    /** (1/|X_j|) sum over routed tokens of renormalised gate x ||f_j(x)||_2; 0 for never-routed experts. */
    @Override
    public double[] scores(NoParams p, LayerContext ctx) {
        RoutingStats r = Stats.withNorms(ctx, "REAP");
        double[] sums = r.reapSums();
        double[] s = new double[sums.length];
        for (int j = 0; j < s.length; j++) {
            s[j] = r.count(j) == 0 ? 0 : sums[j] / r.count(j);
        }
        return s;
    }
}
