package dev.moekit.prune.stage;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.method.StageContext;
import java.nio.file.Path;
import java.util.List;

/** A model opened on the recipe's device with its calibration batches, for one stage. */
record CalibratedModel(CausalLm model, List<TokenBatch> batches, CalibrationOptions options) implements AutoCloseable {
    static final int BATCH = 8;

    static CalibratedModel open(Path dir, StageContext ctx) {
        CalibrationOptions o = CalibrationOptions.of(ctx.calibration());
        RuntimeOptions rt = new RuntimeOptions(RuntimeOptions.parseDevice(ctx.device()), Precision.FP32, false, BATCH);
        List<TokenBatch> batches = Calibration.batches(dir, o, BATCH);
        ctx.info(String.format("calibrating on %d windows of %d tokens from %d file(s)%s", batches.stream().mapToInt(TokenBatch::rows).sum(),
                o.window(), o.files().size(), o.allExperts() ? ", every token through every expert" : ""));
        return new CalibratedModel(CausalLm.open(dir, rt), batches, o);
    }

    @Override
    public void close() {
        model.close();
    }
}
