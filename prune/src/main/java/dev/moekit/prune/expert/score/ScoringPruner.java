package dev.moekit.prune.expert.score;

import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.ExpertReader;
import dev.moekit.prune.expert.KeptExpert;
import dev.moekit.prune.expert.LayerResult;
import dev.moekit.prune.expert.Selection;
import dev.moekit.toolkit.model.LayerSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * An expert pruner that scores every expert of a layer and keeps the best (uniform per-layer pruning; ties: the lower
 * index stays). Subclasses give the criterion ({@link #scores}) and may replace the selection ({@link #keep}, as NAEE's
 * exhaustive search does). A layer that keeps all its experts is left as it is.
 */
public abstract class ScoringPruner<P extends Record> implements ExpertPruner<P> {
    private final String name;
    private final String summary;
    private final String reference;
    private final Class<P> type;
    private final Calibration calibration;

    protected ScoringPruner(String name, String summary, String reference, Class<P> type, Calibration calibration) {
        this.name = name;
        this.summary = summary;
        this.reference = reference;
        this.type = type;
        this.calibration = calibration;
    }

    /** Importance of every expert of the layer, [E]; higher is kept. */
    public abstract double[] scores(P params, LayerContext ctx);

    /** Sorted indices of the {@code count} experts to keep; by default the highest scores. */
    public int[] keep(P params, LayerContext ctx, double[] scores, int count) {
        return keepHighest(scores, count);
    }

    /** Sorted indices of the {@code count} highest scores (ties: the lower index). */
    public static int[] keepHighest(double[] scores, int count) {
        int[] top = RouterMath.topK(scores, null, count);
        Arrays.sort(top);
        return top;
    }

    @Override
    public final Selected select(P params, Selection s) {
        List<LayerResult> out = new ArrayList<>();
        for (LayerSpec l : s.layers()) {
            try (ExpertReader weights = s.experts(l.index())) {
                int layer = l.index();
                LayerContext ctx = new LayerContext(layer, l.experts(), l.topK(), s.spec().hidden(), s.spec().routing(), s.stats(),
                        () -> s.router(layer), () -> s.correctionBias(layer), weights, s.seed());
                double[] scores = scores(params, ctx);
                int keep = s.keep(l);
                int[] kept = keep == l.experts() ? IntStream.range(0, keep).toArray() : keep(params, ctx, scores, keep);
                out.add(new LayerResult(layer, l.experts(), Arrays.stream(kept).mapToObj(KeptExpert::single).toList(), scores, Double.NaN));
            }
        }
        return new Selected(out, true, List.of());
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String summary() {
        return summary;
    }

    @Override
    public final String reference() {
        return reference;
    }

    @Override
    public final Class<P> parameters() {
        return type;
    }

    @Override
    public final Calibration calibration() {
        return calibration;
    }
}
