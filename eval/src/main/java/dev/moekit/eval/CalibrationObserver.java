package dev.moekit.eval;

import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.LayerWeights;

/**
 * What a calibration-driven method (pruning scores, Wanda/GPTQ statistics) plugs into {@link Calibration}: the
 * {@link ForwardObserver} hooks, called for every batch of one layer before the next layer runs, then
 * {@link #layerDone} once per observed layer.
 */
public interface CalibrationObserver extends ForwardObserver {
    /**
     * Layer {@code layer} has been observed on every calibration batch. In sequential mode the caller may edit the
     * layer here ({@link LayerWeights#replace}); the next layer's inputs are then computed from the edited layer.
     */
    default void layerDone(int layer, LayerWeights weights) {}
}
