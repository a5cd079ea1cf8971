package dev.moekit.prune.calib;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Pass;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.stats.StatsSource;
import java.util.List;

/**
 * Expert-pruning statistics from one forward pass of the eval runtime over calibration batches: routing counts,
 * co-activations, gate sums, expert output norms (EAN/REAP), and optionally MoE-block inputs for NAEE. The pass goes
 * layer by layer over all batches, so a layerwise model streams its weights once.
 */
public final class RuntimeStats {
    private RuntimeStats() {}

    /**
     * Runs {@code batches} through {@code model} and returns the statistics of every MoE layer.
     *
     * @param blockSamples MoE-block input rows kept per layer for NAEE (0: none)
     */
    public static StatsSource collect(CausalLm model, List<TokenBatch> batches, int blockSamples) {
        RoutingCollector c = new RoutingCollector(model.spec(), blockSamples);
        try (Pass pass = model.begin(batches)) {
            pass.runAll(c);
        }
        return StatsSource.of(c.stats(), c.samples());
    }
}
