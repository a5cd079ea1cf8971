package dev.moekit.distill.slim;

import ai.djl.Device;
import dev.moekit.distill.Losses;
import dev.moekit.distill.TeacherCache;
import dev.moekit.distill.TrainData;
import dev.moekit.distill.TrainSpec;
import dev.moekit.distill.Trainer;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.pipeline.Events;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * Computes {@link Scores} of a student on calibration windows through the training engine: the expert (and, when
 * asked, attention) weights become fp32 masters, each micro-batch runs forward and backward of the scoring loss, and
 * {@code |W * grad|} is accumulated per unit. The loss is SlimMoE's top-k KD against the original model, except
 * where the student still is the original: there the KD gradient is zero (KL at its minimum), so next-token
 * cross-entropy on the text stands in ({@link ScoreLoss#AUTO}).
 */
public final class Sensitivity {
    /** Which loss the gradients are of. */
    public enum ScoreLoss {
        /** CE while the student is the original model, KD against the original afterwards. */
        AUTO,
        /** Top-k KD against the original model. */
        KD,
        /** Next-token cross-entropy on the calibration text. */
        CE
    }

    private Sensitivity() {}

    /**
     * Scores {@code student} on the first {@code windows} windows of {@code data} (in the seed's order), with
     * {@code teacher} for KD (null: CE); {@code attention}: whether GQA groups are scored too.
     */
    public static Scores compute(Path student, Path teacher, TrainData data, int windows, int batch, Losses kd,
                                 boolean attention, Device device, long seed, Events events) {
        Set<ParamGroup> groups = attention ? EnumSet.of(ParamGroup.EXPERTS, ParamGroup.ATTENTION) : EnumSet.of(ParamGroup.EXPERTS);
        Losses losses = teacher == null ? Losses.languageModel() : new Losses(1, 0, kd.topK(), kd.temperature(), kd.support(), 0, 0);
        TrainSpec spec = TrainSpec.builder(student, data).teacher(teacher).train(groups).steps(1).batch(batch)
                .losses(losses).device(device).teacherCache(TeacherCache.LIVE).seed(seed).build();
        try (Trainer t = Trainer.open(spec, events)) {
            Scores s = Scores.zeros(t.student().spec());
            double loss = t.gradients(windows, () -> s.accumulate(t.student().spec(), t.parameters()));
            events.info(String.format(java.util.Locale.ROOT, "slim: scored %d windows by |W * grad| of %s (loss %.4f)",
                    windows, teacher == null ? "next-token CE" : "top-" + kd.topK() + " KD against the original", loss));
            return s;
        }
    }
}
