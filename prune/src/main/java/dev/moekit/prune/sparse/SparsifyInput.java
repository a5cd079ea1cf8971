package dev.moekit.prune.sparse;

import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.List;
import java.util.Map;

/**
 * What a {@link Sparsifier} may read to set the per-layer targets: the input checkpoint (unpruned), its decoder
 * Linears and scope, and one dense (non-sequential) calibration pass for statistics of the unpruned model.
 */
public final class SparsifyInput {
    private final Checkpoint in;
    private final ModelSpec spec;
    private final SparsityOptions options;
    private final List<List<DecoderLinears.Linear>> linears;
    private final CalibratedModel calib;

    SparsifyInput(Checkpoint in, ModelSpec spec, SparsityOptions options, List<List<DecoderLinears.Linear>> linears, CalibratedModel calib) {
        this.in = in;
        this.spec = spec;
        this.options = options;
        this.linears = List.copyOf(linears);
        this.calib = calib;
    }

    public Checkpoint checkpoint() {
        return in;
    }

    public ModelSpec spec() {
        return spec;
    }

    public SparsityOptions options() {
        return options;
    }

    /** Decoder layers. */
    public int layers() {
        return linears.size();
    }

    /** The Linears of {@code layer}, pruned or not. */
    public List<DecoderLinears.Linear> linears(int layer) {
        return linears.get(layer);
    }

    /** Whether the options prune {@code l}. */
    public boolean inScope(DecoderLinears.Linear l) {
        return DecoderLinears.inScope(l, options);
    }

    /** Per-layer statistics of a dense pass. */
    public interface LayerStatistics {
        /** Statistics of every Linear of {@code layer} that saw tokens, before the next layer runs. */
        void layer(int layer, Map<LinearKey, ActivationNorms> norms);
    }

    /**
     * Runs the calibration text once through the unpruned model (routed tokens only), handing each layer's Linear
     * input statistics to {@code visitor} in layer order.
     */
    public void densePass(LayerStatistics visitor) {
        calib.run(new LinearInputs() {
            @Override
            void done(int layer, Map<LinearKey, ActivationNorms> norms, LayerWeights weights) {
                visitor.layer(layer, norms);
            }
        }, false, false);
    }
}
