package dev.moekit.prune.sparse;

import dev.moekit.prune.stats.ActivationNorms;
import java.util.Map;

/**
 * Layer-by-layer calibration for Wanda/OWL: a pass runs decoder layers in order over fixed calibration batches; for each
 * layer it reports the input statistics of every Linear (routed experts: only their routed tokens), and the caller
 * may replace that layer's weights before the pass computes the next layer's inputs. So each layer is calibrated on
 * inputs produced by the already-pruned earlier layers, as the reference's sequential loop does.
 */
public interface SequentialCalibration {
    /** Starts a pass at layer 0 on the input model. */
    Pass open();

    /** One pass through the decoder layers. */
    interface Pass extends AutoCloseable {
        /** Input statistics of the Linears of {@code layer} (the next layer); Linears that saw no tokens may be absent. */
        Map<LinearKey, ActivationNorms> observe(int layer);

        /** Replaces one Linear weight ([out, in] fp32) of {@code layer} (the next layer) for the following steps. */
        void replace(int layer, LinearKey key, float[] weight);

        /** Runs {@code layer} with its current weights to produce the next layer's inputs. */
        void advance(int layer);

        @Override
        void close();
    }
}
