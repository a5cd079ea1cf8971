package dev.moekit.prune.expert;

import java.util.Arrays;

/**
 * One expert-importance criterion, registered by name in {@link ExpertScorers}. Higher scores are kept; the default
 * selection keeps the {@code count} best of a layer (ties: the lower index stays), i.e. uniform per-layer pruning.
 */
interface ExpertScorer {
    /** Registry key. */
    String name();

    /** Importance of every expert of the layer, [E]. */
    double[] scores(LayerContext ctx);

    /** Sorted indices of the experts to keep. */
    default int[] keep(LayerContext ctx, double[] scores, int count) {
        return keepHighest(scores, count);
    }

    static int[] keepHighest(double[] scores, int count) {
        int[] top = RouterMath.topK(scores, null, count);
        Arrays.sort(top);
        return top;
    }
}
