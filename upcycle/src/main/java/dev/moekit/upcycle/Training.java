package dev.moekit.upcycle;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.distill.AddedParameter;
import dev.moekit.distill.LossCurve;
import dev.moekit.distill.Losses;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.TrainReport;
import dev.moekit.distill.TrainSpec;
import dev.moekit.distill.Trainer;
import dev.moekit.eval.runtime.ForwardExtension;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.stage.StageContext;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/**
 * The MoE fine-tuning after an upcycling assembly, on the distillation engine: next-token cross-entropy on the
 * recipe's calibration text (the trainer refuses test splits) plus the load-balancing loss (and, for BAM, the router
 * z-loss), AdamW with warm-up and cosine decay. A token budget becomes
 * {@code ceil(train_tokens / (batch * accumulation * window))} optimizer steps.
 *
 * @param tokens         training tokens (0: assemble only)
 * @param train          parameter groups that train ({@code routers}, {@code all}, ...)
 * @param batch          windows per micro-batch
 * @param accumulation   micro-batches per step
 * @param window         tokens per window, or null for the calibration window
 * @param windowsPerFile windows from the start of each file, 0 for all
 * @param lr             peak learning rate
 * @param warmup         warm-up steps
 * @param weightDecay    AdamW weight decay on matrices
 * @param balance        load-balancing loss weight (BTX: 0.01)
 * @param zLoss          router z-loss weight
 * @param precision      fp32/fp16 or null for the device's default
 * @param stateDir       training-state folder (resume), or null
 */
public record Training(long tokens, String train, int batch, int accumulation, Integer window, int windowsPerFile, double lr,
                       int warmup, double weightDecay, double balance, double zLoss, String precision, String stateDir) {
    public Training {
        if (tokens < 0) {
            throw new IllegalArgumentException("train_tokens must be >= 0 (0: assemble only), got " + tokens);
        }
        if (batch < 1 || accumulation < 1 || windowsPerFile < 0 || warmup < 0) {
            throw new IllegalArgumentException("batch_size and accumulation must be >= 1, windows_per_file and warmup >= 0");
        }
        if (window != null && window < 2) {
            throw new IllegalArgumentException("window must be >= 2, got " + window);
        }
        groups(train);
        if (precision != null) {
            Precision.parse(precision);
        }
        losses(balance, zLoss);
        new Optim(lr, lr / 10, warmup, weightDecay, 0.9, 0.95, 1e-8, 1.0);
    }

    private static Losses losses(double balance, double zLoss) {
        return Losses.languageModel().withRouter(balance, zLoss);
    }

    public static Set<ParamGroup> groups(String csv) {
        return ParamGroup.parse(csv);
    }

    /** Whether any training happens. */
    public boolean trains() {
        return tokens > 0;
    }

    public int window(StageContext ctx) {
        return window == null ? ctx.calibration().window() : window;
    }

    /** Optimizer steps for the token budget. */
    public int steps(StageContext ctx) {
        long perStep = (long) batch * accumulation * window(ctx);
        return Math.toIntExact(Math.max(1, (tokens + perStep - 1) / perStep));
    }

    /** What the plan reports about training. */
    public void describe(ObjectNode d, StageContext ctx) {
        d.put("train_tokens", tokens);
        if (trains()) {
            int steps = steps(ctx);
            d.put("train_steps", steps);
            d.put("tokens_trained", (long) steps * batch * accumulation * window(ctx));
            d.put("train", train);
            d.put("balance_weight", balance);
            d.put("z_loss_weight", zLoss);
        }
    }

    private Precision precision(StageContext ctx) {
        if (precision != null) {
            return Precision.parse(precision);
        }
        return RuntimeOptions.parseDevice(ctx.device()).isGpu() ? Precision.FP16 : Precision.FP32;
    }

    /**
     * Trains {@code assembled} into {@code output}; {@code added}/{@code extension} are a method's own parameters and
     * forward (BAM's attention experts). Returns the training report (with the loss chart as base64 PNG).
     */
    public ObjectNode run(Path assembled, Path output, StageContext ctx, List<AddedParameter> added, ForwardExtension extension) {
        List<Path> files = ctx.calibration().data().stream().map(Path::of).toList();
        TrainSpec spec = TrainSpec.builder(assembled, new TrainData.TextFiles(files, window(ctx), windowsPerFile))
                .output(output).train(groups(train)).steps(steps(ctx)).batch(batch).accumulation(accumulation)
                .losses(losses(balance, zLoss)).optim(new Optim(lr, lr / 10, warmup, weightDecay, 0.9, 0.95, 1e-8, 1.0))
                .device(RuntimeOptions.parseDevice(ctx.device())).precision(precision(ctx))
                .state(stateDir == null ? null : Path.of(stateDir).toAbsolutePath(), stateDir == null ? 0 : Math.max(1, steps(ctx) / 10))
                .added(added, extension).seed(ctx.seed()).build();
        TrainReport r = Trainer.train(spec, ctx.events());
        ctx.info("upcycle training: " + r.summary());
        ObjectNode rep = r.toJson();
        rep.put("loss_png", Base64.getEncoder().encodeToString(LossCurve.png(r.log())));
        return rep;
    }
}
