package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.method.NoParams;

/** Expert pruner {@code ean}: keep the experts with the largest sum over routed tokens of ||f_j(x)||_2. */
public final class EanPruner extends ScoringPruner<NoParams> {
    public EanPruner() {
        super("ean", "EAN: keep the experts with the largest summed output norm over their routed tokens",
                "https://arxiv.org/abs/2504.05586", NoParams.class, Calibration.REQUIRED);
    }

    @Override
    public double[] scores(NoParams p, LayerContext ctx) {
        return Stats.withNorms(ctx, "EAN").outputNormSums();
    }
}
