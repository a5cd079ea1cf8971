package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.method.NoParams;
import java.util.SplittableRandom;

/** Expert pruner {@code random}: a uniformly random ranking from the seed (a control; no calibration). */
public final class RandomPruner extends ScoringPruner<NoParams> {
    public RandomPruner() {
        super("random", "keep a seeded random choice of experts (a control, as REAP's random baseline)",
                "https://arxiv.org/abs/2510.13999", NoParams.class, Calibration.NONE);
    }

    /** I.i.d. uniform scores from a generator seeded by (seed, layer). */
    @Override
    public double[] scores(NoParams p, LayerContext ctx) {
        SplittableRandom rnd = new SplittableRandom(ctx.seed() * 0x9E3779B97F4A7C15L + ctx.layer());
        double[] s = new double[ctx.experts()];
        for (int i = 0; i < s.length; i++) {
            s[i] = rnd.nextDouble();
        }
        return s;
    }
}
