package dev.moekit.distill;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a training run did.
 *
 * @param steps             optimizer steps done in total
 * @param resumedFrom       the step the run resumed after (0: fresh)
 * @param tokens            student tokens trained on (this run and the resumed part)
 * @param seconds           training time (steps only; loading and writing excluded)
 * @param tokensPerSecond   tokens / seconds of this process's steps, teacher forwards included
 * @param parameters        trainable elements
 * @param tensors           trainable tensors
 * @param firstLoss         loss of the first logged step
 * @param lastLoss          mean loss of the last {@code min(10, steps)} steps
 * @param skippedSteps      steps dropped for non-finite fp16 gradients
 * @param lossScale         final loss scale
 * @param teacherMode       cache or live
 * @param teacherWindows    windows the teacher ran on in this process
 * @param log               every step
 * @param files             loss.csv and loss.png, if a report folder was given
 */
public record TrainReport(int steps, int resumedFrom, long tokens, double seconds, double tokensPerSecond, long parameters,
                          int tensors, double firstLoss, double lastLoss, int skippedSteps, double lossScale,
                          String teacherMode, long teacherWindows, List<StepLog> log, List<Path> files) {
    public TrainReport {
        log = List.copyOf(log);
        files = List.copyOf(files);
    }

    /** One line for people. */
    public String summary() {
        return String.format(Locale.ROOT, "%d steps%s, loss %.4f -> %.4f, %d parameters in %d tensors, %.0f tokens/s",
                steps, resumedFrom > 0 ? " (resumed after " + resumedFrom + ")" : "", firstLoss, lastLoss, parameters,
                tensors, tokensPerSecond);
    }

    /** The report as JSON (snake_case; the log as CSV text). */
    public ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("summary", summary());
        o.put("steps", steps);
        o.put("resumed_from", resumedFrom);
        o.put("tokens", tokens);
        o.put("seconds", seconds);
        o.put("tokens_per_second", tokensPerSecond);
        o.put("parameters", parameters);
        o.put("tensors", tensors);
        o.put("first_loss", firstLoss);
        o.put("last_loss", lastLoss);
        o.put("skipped_steps", skippedSteps);
        o.put("loss_scale", lossScale);
        o.put("teacher_mode", teacherMode);
        o.put("teacher_windows", teacherWindows);
        o.put("loss_csv", LossCurve.csv(log));
        return o;
    }
}
