package dev.moekit.distill.slim;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.distill.Losses;
import dev.moekit.distill.Optim;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.TrainReport;
import dev.moekit.distill.TrainSpec;
import dev.moekit.distill.Trainer;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.ModelSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * SlimMoE (Li et al., arXiv 2506.18349): rounds of prune-then-distill from the original model to the target size.
 * Round {@code s} scores the current student ({@link Sensitivity}), keeps the top units to reach that round's
 * {@link Target} ({@link Selection#top}), writes the slimmed checkpoint with the weights physically removed
 * ({@link SlimWriter}) and, with a token budget, distils it towards the original model with top-k KD
 * ({@link Trainer}). One round with the whole budget is one-shot slimming plus distillation.
 *
 * <pre>{@code
 * SlimMoe.Run r = SlimMoe.run(new SlimMoe.Settings(target, 2, Target.Widths.GEOMETRIC, List.of(2048L, 2048L), ...),
 *     original, out, work, events);
 * }</pre>
 */
public final class SlimMoe {
    /**
     * One run.
     *
     * @param target       the final sizes
     * @param stages       prune-then-distill rounds
     * @param widths       spacing of the intermediate expert widths
     * @param stageTokens  training tokens of each round (0: that round only slims)
     * @param data         calibration text: scoring windows and training windows
     * @param scoreWindows windows scored per round
     * @param scoreLoss    the loss the gradients are of
     * @param train        parameter groups that train in the distillation rounds
     * @param batch        windows per micro-batch (scoring and training)
     * @param accumulation micro-batches per optimizer step
     * @param losses       distillation objective (SlimMoE: top-8 KD, T=1)
     * @param optim        optimizer of each round (the schedule restarts every round)
     * @param device       cpu or gpu(n)
     * @param precision    training precision (null: the device's default)
     * @param seed         data order
     */
    public record Settings(Target target, int stages, Target.Widths widths, List<Long> stageTokens, TrainData data,
                           int scoreWindows, Sensitivity.ScoreLoss scoreLoss, Set<ParamGroup> train, int batch,
                           int accumulation, Losses losses, Optim optim, Device device, Precision precision, long seed) {
        public Settings {
            stageTokens = List.copyOf(stageTokens);
            if (stageTokens.size() != stages) {
                throw new IllegalArgumentException(stages + " stages but " + stageTokens.size() + " stage token budgets");
            }
            if (scoreWindows < 1 || batch < 1 || accumulation < 1) {
                throw new IllegalArgumentException("score_windows, batch_size and accumulation must be >= 1");
            }
            if (stageTokens.stream().anyMatch(t -> t < 0)) {
                throw new IllegalArgumentException("stage token budgets must be >= 0, got " + stageTokens);
            }
        }
    }

    /** What a run did: per round its target, scoring and training; the JSON report with loss logs. */
    public record Run(List<Target> targets, long tokens, double trainSeconds, double seconds, ObjectNode report) {}

    private SlimMoe() {}

    /**
     * Runs every round from {@code original} and writes the result to {@code out}; intermediate checkpoints go to
     * {@code work} (removed at the end).
     */
    public static Run run(Settings s, Path original, Path out, Path work, Events events) {
        long t0 = System.nanoTime();
        ModelSpec spec0;
        try (Checkpoint c = Checkpoint.open(original)) {
            spec0 = ModelSpec.of(c);
        }
        List<Target> targets = Target.schedule(spec0, s.target(), s.stages(), s.widths());
        ObjectNode rep = Json.PRETTY.createObjectNode();
        ArrayNode rounds = rep.putArray("rounds");
        Path current = original;
        long tokens = 0;
        double trainSeconds = 0;
        try {
            Files.createDirectories(work);
            for (int r = 0; r < targets.size(); r++) {
                Target t = targets.get(r);
                long budget = s.stageTokens().get(r);
                boolean last = r == targets.size() - 1;
                ObjectNode round = rounds.addObject();
                round.put("round", r + 1);
                round.put("expert_ffn", t.ffn());
                round.put("shared_ffn", t.sharedFfn());
                round.put("kv_groups", t.kvGroups());
                long ts = System.nanoTime();
                ModelSpec spec;
                try (Checkpoint c = Checkpoint.open(current)) {
                    spec = ModelSpec.of(c);
                }
                Target now = Target.of(spec);
                Selection sel;
                if (now.equals(t)) {
                    sel = Selection.prefix(spec, t);      // nothing to remove this round
                    round.put("scored", false);
                } else {
                    boolean ce = s.scoreLoss() == Sensitivity.ScoreLoss.CE
                            || (s.scoreLoss() == Sensitivity.ScoreLoss.AUTO && current.equals(original));
                    Scores sc = Sensitivity.compute(current, ce ? null : original, s.data(), s.scoreWindows(), s.batch(),
                            s.losses(), t.kvGroups() != now.kvGroups(), s.device(), s.seed(), events);
                    sel = Selection.top(spec, sc, t);
                    round.put("scored", true);
                    round.put("score_loss", ce ? "ce" : "kd");
                    round.put("kept_kv_groups", Json.PRETTY.valueToTree(sel.groups()));
                }
                Path slim = last && budget == 0 ? out : work.resolve("round-" + (r + 1) + "-slim");
                try (Checkpoint c = Checkpoint.open(current)) {
                    round.put("bytes", SlimWriter.write(c, spec, sel, slim));
                }
                round.put("slim_seconds", (System.nanoTime() - ts) / 1e9);
                events.info("slim: round " + (r + 1) + "/" + targets.size() + ": " + t);
                current = slim;
                if (budget > 0) {
                    Path trained = last ? out : work.resolve("round-" + (r + 1) + "-distilled");
                    TrainReport tr = distill(s, original, slim, trained, budget, events);
                    tokens += tr.tokens();
                    trainSeconds += tr.seconds();
                    round.set("distill", tr.toJson());
                    current = trained;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(work + ": cannot create the work folder", e);
        } finally {
            delete(work);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        rep.put("stages", targets.size());
        rep.put("tokens", tokens);
        rep.put("train_seconds", trainSeconds);
        rep.put("tokens_per_second", trainSeconds > 0 ? tokens / trainSeconds : 0);
        rep.put("seconds", seconds);
        rep.put("summary", String.format(Locale.ROOT, "%d round(s) to %s; %d training tokens in %.1f s (%.0f tokens/s); %.1f s in all",
                targets.size(), s.target(), tokens, trainSeconds, trainSeconds > 0 ? tokens / trainSeconds : 0, seconds));
        return new Run(targets, tokens, trainSeconds, seconds, rep);
    }

    /** Distils {@code student} towards {@code teacher} for about {@code tokens} tokens into {@code out}. */
    private static TrainReport distill(Settings s, Path teacher, Path student, Path out, long tokens, Events events) {
        int window = switch (s.data()) {
            case TrainData.TextFiles f -> f.window();
            case TrainData.Windows w -> w.windows()[0].length;
        };
        long perStep = (long) s.batch() * s.accumulation() * window;
        int steps = (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.round((double) tokens / perStep)));
        TrainSpec spec = TrainSpec.builder(student, s.data()).teacher(s.losses().kd() > 0 ? teacher : null).output(out)
                .train(s.train()).steps(steps).batch(s.batch()).accumulation(s.accumulation()).losses(s.losses())
                .optim(s.optim()).device(s.device()).precision(s.precision()).seed(s.seed()).build();
        return Trainer.train(spec, events);
    }

    private static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot remove the slimming work folder", e);
        }
    }
}
