package dev.moekit.prune.calib;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.CoverageReport;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.stats.StatsSource;
import java.util.List;

/**
 * Expert-pruning statistics from one calibration pass of the eval runtime ({@link Calibration#run}): routing counts,
 * co-activations, gate sums, expert output norms (EAN/REAP), and optionally MoE-block inputs for NAEE. The pass goes
 * layer by layer over all batches, so a layerwise model streams its weights once.
 */
public final class RuntimeStats {
    /**
     * @param stats    the statistics of every MoE layer
     * @param coverage how many real tokens each expert received, with under-covered experts flagged
     */
    public record Result(StatsSource stats, CoverageReport coverage) {}

    private RuntimeStats() {}

    /** One statistics pass of {@code calib}'s batches (all-experts routing as its options say). */
    public static Result collect(CalibratedModel calib, int blockSamples) {
        RoutingCollector c = new RoutingCollector(calib.model().spec(), blockSamples);
        CoverageReport coverage = calib.run(c, false, calib.options().allExperts());
        return new Result(StatsSource.of(c.stats(), c.samples()), coverage);
    }

    /**
     * Runs {@code batches} through {@code model} (batches from {@link Calibration#batches}).
     *
     * @param blockSamples MoE-block input rows kept per layer for NAEE (0: none)
     */
    public static Result collect(CausalLm model, List<TokenBatch> batches, CalibrationOptions options, int blockSamples,
                                 Progress progress) {
        RoutingCollector c = new RoutingCollector(model.spec(), blockSamples);
        CoverageReport coverage = Calibration.run(model, batches, options.withSequential(false), c, progress);
        return new Result(StatsSource.of(c.stats(), c.samples()), coverage);
    }
}
