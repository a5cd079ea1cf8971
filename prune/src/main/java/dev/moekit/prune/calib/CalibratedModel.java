package dev.moekit.prune.calib;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.CoverageReport;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.pipeline.stage.StageContext;
import java.nio.file.Path;
import java.util.List;

/**
 * A model opened on the recipe's device with its calibration batches, for one stage: every calibrating method of the
 * module (expert statistics, Wanda/OWL) runs its passes through {@link #run}, i.e. eval's {@link Calibration#run}.
 * Closing it closes the model.
 *
 * @param model    the runtime model
 * @param batches  calibration windows, batched
 * @param options  calibration settings (files, window, all-experts)
 * @param progress where layer progress goes
 */
public record CalibratedModel(CausalLm model, List<TokenBatch> batches, CalibrationOptions options, Progress progress)
        implements AutoCloseable {
    public static final int BATCH = 8;

    public CalibratedModel {
        batches = List.copyOf(batches);
    }

    /** Opens {@code dir} in fp32 on the stage's device and tokenizes the stage's calibration text. */
    public static CalibratedModel open(Path dir, StageContext ctx) {
        CalibrationOptions o = CalibrationOptions.of(ctx.calibration());
        RuntimeOptions rt = new RuntimeOptions(RuntimeOptions.parseDevice(ctx.device()), Precision.FP32, false, BATCH);
        List<TokenBatch> batches = Calibration.batches(dir, o, BATCH);
        ctx.info(String.format("calibrating on %d windows of %d tokens from %d file(s)%s", batches.stream().mapToInt(TokenBatch::rows).sum(),
                o.window(), o.files().size(), o.allExperts() ? ", every token through every expert" : ""));
        return new CalibratedModel(CausalLm.open(dir, rt), batches, o, ctx.events());
    }

    /**
     * One pass of the batches through the model, layer by layer ({@link Calibration#run}).
     *
     * @param sequential each observed layer runs twice: observed, then (after {@code observer.layerDone} may have
     *                   edited it) once more to compute the next layer's inputs
     * @param allExperts route every token through every expert for the expert hooks
     */
    public CoverageReport run(CalibrationObserver observer, boolean sequential, boolean allExperts) {
        return Calibration.run(model, batches, options.withSequential(sequential).withAllExperts(allExperts), observer, progress);
    }

    @Override
    public void close() {
        model.close();
    }
}
